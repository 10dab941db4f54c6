package lambdatelemetryreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/internal/telemetryevent"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// B3 (docs/benchmark-suite.md), receiver part: events per CPU-second through
// HTTP → decode → correlation/mapping → no-op consumers ("mapping"),
// against the same confighttp server whose handler only reads the body and
// answers 200 ("floor") and a handler that also decodes ("decode"), in the
// same run. CPU is utime+stime of the whole
// process (client included, identically in both). Ratio = mapping/floor.
func BenchmarkB3Receiver(b *testing.B) {
	body, events := b3Body(100)
	b.Run("path=floor", func(b *testing.B) {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		ln, err := cfg.ToListener(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		srv, err := cfg.ToServer(context.Background(), nil, componenttest.NewNopTelemetrySettings(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"accepted":600}`))
		}))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		b3Run(b, "http://"+ln.Addr().String()+TelemetryPath, body, events)
		_ = srv.Close()
		<-done
	})
	b.Run("path=decode", func(b *testing.B) {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		ln, err := cfg.ToListener(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var d telemetryevent.Decoder
		srv, err := cfg.ToServer(context.Background(), nil, componenttest.NewNopTelemetrySettings(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if _, err := d.DecodeEvents(body); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"accepted":600}`))
		}))
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(ln) }()
		b3Run(b, "http://"+ln.Addr().String()+TelemetryPath, body, events)
		_ = srv.Close()
		<-done
	})
	b.Run("path=mapping", func(b *testing.B) {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		cfg.ResourceAttributes = map[string]string{"faas.name": "fn", "faas.instance": "env-1", "cloud.availability_zone": "use1-az1"}
		set := receivertest.NewNopSettings(metadata.Type)
		r, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		_, _ = f.CreateLogs(context.Background(), set, cfg, consumertest.NewNop())
		_, _ = f.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
		if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		b3Run(b, "http://"+r.(*lambdaReceiver).listenAddr.String()+TelemetryPath, body, events)
		_ = r.Shutdown(context.Background())
	})
}

// b3Body is one Telemetry API POST of n complete invocations, each with
// start, three log lines, runtimeDone and report (6n events).
func b3Body(n int) ([]byte, int) {
	var ev []string
	for i := range n {
		id := fmt.Sprintf("6f7f0961-5f8a-4b1e-9f2c-%012d", i)
		ev = append(ev,
			`{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST"}}`,
			`{"time":"2026-03-01T10:00:00.001Z","type":"function","record":"2026-03-01T10:00:00.001Z\t`+id+`\tINFO\tprocessing order o-42 for customer c-7\n"}`,
			`{"time":"2026-03-01T10:00:00.002Z","type":"function","record":{"timestamp":"2026-03-01T10:00:00.002Z","level":"INFO","requestId":"`+id+`","message":"charged card","amount":12.5}}`,
			`{"time":"2026-03-01T10:00:00.003Z","type":"extension","record":"flushed\n"}`,
			`{"time":"2026-03-01T10:00:00.020Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":20.5,"producedBytes":15},"spans":[{"name":"responseLatency","start":"2026-03-01T10:00:00.000Z","durationMs":18.2},{"name":"responseDuration","start":"2026-03-01T10:00:00.018Z","durationMs":0.3}]}}`,
			`{"time":"2026-03-01T10:00:00.022Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":22.0,"billedDurationMs":23,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`,
		)
	}
	return []byte("[" + strings.Join(ev, ",") + "]"), len(ev)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func b3Run(b *testing.B, url string, body []byte, events int) {
	client := &http.Client{}
	post := func() {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	post()
	b.SetBytes(int64(len(body)))
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		post()
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N*events)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}
