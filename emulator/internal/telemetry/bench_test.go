package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nullConsumer is a Telemetry API listener that reads and discards every batch: the fastest
// consumer the machine can run, shared by the hub and the reference.
func nullConsumer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

const benchBatch = 10000

var benchLine = strings.Repeat("l", 100) // a 100-byte function log line

// BenchmarkDelivery measures events/s from Emit to a null consumer's 2xx ("hub") against the
// floor of the same work done inline: encode each event into a JSON array and POST batches of the
// same size synchronously to the same consumer ("reference"). Compare hub/reference. It also
// reports the process's CPU time per event (user+system, consumer included), which a shared,
// loaded machine disturbs less than wall time.
func BenchmarkDelivery(b *testing.B) {
	b.Run("reference", func(b *testing.B) {
		srv := nullConsumer(b)
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		now := time.Now()
		body := make([]byte, 0, 2<<20)
		cpu := cpuTime(b)
		post := func() {
			body = append(body, ']')
			resp, err := client.Post(srv.URL+"/lambda_logs", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			body = body[:0]
		}
		b.ResetTimer()
		for i := range b.N {
			if len(body) == 0 {
				body = append(body, '[')
			} else {
				body = append(body, ',')
			}
			var err error
			if body, err = appendEvent(body, Event{Time: now, Type: "function", Record: benchLine}); err != nil {
				b.Fatal(err)
			}
			if (i+1)%benchBatch == 0 {
				post()
			}
		}
		if len(body) > 0 {
			post()
		}
		b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/event")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("hub", func(b *testing.B) {
		srv := nullConsumer(b)
		h := NewHub(Config{MaxQueueBytes: 8 << 20})
		port := srv.Listener.Addr().String()
		port = port[strings.LastIndexByte(port, ':')+1:]
		body := `{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:` + port +
			`/lambda_logs"},"types":["function"],"buffering":{"maxItems":10000,"maxBytes":1048576,"timeoutMs":25}}`
		if err := h.Subscribe("ext", []byte(body)); err != nil {
			b.Fatal(err)
		}
		h.CloseSubscriptions()
		ctx := context.Background()
		cpu := cpuTime(b)
		b.ResetTimer()
		for i := range b.N {
			h.Emit(Event{Type: "function", Record: benchLine})
			// Keep at most two batches in flight so the queue never overflows: drops would make
			// the hub look faster than it is.
			if (i+1)%(2*benchBatch) == 0 {
				if err := h.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := h.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if s := h.Stats(); s.DroppedRecords != 0 || s.Delivered != uint64(b.N) {
			b.Fatalf("delivered %d of %d, dropped %d", s.Delivered, b.N, s.DroppedRecords)
		}
		b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/event")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkEmit is the invoke-path cost of one log line with a subscriber attached, against the
// cost with nobody subscribed (the event is discarded before encoding).
func BenchmarkEmit(b *testing.B) {
	b.Run("no-subscriber", func(b *testing.B) {
		h := NewHub(Config{})
		h.CloseSubscriptions()
		defer h.Close(context.Background())
		b.ReportAllocs()
		for range b.N {
			h.Emit(Event{Type: "function", Record: benchLine})
		}
	})
	b.Run("subscribed", func(b *testing.B) {
		srv := nullConsumer(b)
		h := NewHub(Config{MaxQueueBytes: 8 << 20})
		port := srv.Listener.Addr().String()
		port = port[strings.LastIndexByte(port, ':')+1:]
		if err := h.Subscribe("ext", []byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox:`+port+`/"},"types":["function"]}`)); err != nil {
			b.Fatal(err)
		}
		h.CloseSubscriptions()
		defer h.Close(context.Background())
		b.ReportAllocs()
		for i := range b.N {
			h.Emit(Event{Type: "function", Record: benchLine})
			if (i+1)%benchBatch == 0 {
				b.StopTimer()
				h.Flush(context.Background())
				b.StartTimer()
			}
		}
	})
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
