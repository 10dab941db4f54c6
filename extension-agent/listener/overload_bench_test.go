package listener

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// B8 of docs/benchmark-suite.md at the listener: the bodies Lambda sends under load, beside a null
// net/http handler; and (a test) a malformed POST costs only itself.

// b8Bodies are the POSTs of B8, each about 2 MiB (2×maxBytes of the largest subscription):
// 1 KB lines; 256 KiB records (a long line split by the platform into record-sized pieces); and
// records dense with escapes (control characters, quotes, surrogate pairs), the scanner's slow
// path.
func b8Bodies() []struct {
	name   string
	body   []byte
	events int
} {
	odd := strings.Repeat(`\u0000\"\\\ud83d\ude00\t x `, 40) // ~1 KB of escapes
	var oddBody bytes.Buffer
	oddBody.WriteByte('[')
	const oddN = 2048
	for i := range oddN {
		if i > 0 {
			oddBody.WriteByte(',')
		}
		fmt.Fprintf(&oddBody, `{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"%d %s"}`, i, odd)
	}
	oddBody.WriteByte(']')
	return []struct {
		name   string
		body   []byte
		events int
	}{
		{"2xmaxBytes-1KB-lines", logBody(2048, 1000), 2048},
		{"split-256KiB-records", logBody(8, 256<<10), 8},
		{"escape-dense-records", oddBody.Bytes(), oddN},
	}
}

// BenchmarkB8Overload: each body POSTed over loopback to the agent's listener and, alternating in
// the same loop, to a null handler; MiB/s of both and agent ÷ null. Every POST must be answered
// 200 with every event handed on.
func BenchmarkB8Overload(b *testing.B) {
	null, err := Listen("127.0.0.1", 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Shutdown(context.Background())
	counted := &countSink{}
	agent, err := Listen("127.0.0.1", 0, NewHandler(counted, nil, nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, c := range b8Bodies() {
		b.Run(c.name, func(b *testing.B) {
			send := func(addr string) time.Duration {
				start := time.Now()
				resp, err := client.Post("http://"+addr+Path, "application/json", bytes.NewReader(c.body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return time.Since(start)
			}
			var tNull, tAgent time.Duration
			counted.n = 0
			b.SetBytes(int64(len(c.body)))
			for i := 0; i < b.N; i++ {
				tNull += send(null.Addr())
				tAgent += send(agent.Addr())
			}
			if counted.n != c.events*b.N {
				b.Fatalf("%d events handed on, want %d", counted.n, c.events*b.N)
			}
			mb := float64(len(c.body)*b.N) / (1 << 20)
			b.ReportMetric(mb/tNull.Seconds(), "null-MiB/s")
			b.ReportMetric(mb/tAgent.Seconds(), "agent-MiB/s")
			b.ReportMetric(tNull.Seconds()/tAgent.Seconds(), "ratio")
		})
	}
}

// countSink counts events; POSTs are sequential here, so it needs no lock.
type countSink struct{ n int }

func (c *countSink) Add(events [][]byte, _ int) { c.n += len(events) }

// TestB8MalformedPostLosesOnlyItself: over one keep-alive connection, malformed POSTs (truncated,
// a record that is not an object, too deep, invalid escape) between good ones — 2×maxBytes bodies,
// the pieces of a record split over three POSTs, escape-dense records — are answered 400 and
// cost nothing but themselves: every event of every good POST reaches the sink, once, in order,
// byte for byte, and the split record's pieces put back together are the original line.
func TestB8MalformedPostLosesOnlyItself(t *testing.T) {
	s := &sink{}
	srv, err := Listen("127.0.0.1", 0, NewHandler(s, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	line := "split " + strings.Repeat("x", 600<<10)
	pieces := []string{line[:256<<10], line[256<<10 : 512<<10], line[512<<10:]}
	piece := func(i int) []byte {
		return fmt.Appendf(nil, `[{"time":"2026-01-01T00:00:00.000Z","type":"function","record":%q}]`, pieces[i])
	}
	bad := [][]byte{
		[]byte(`[{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"trunc`),
		[]byte(`[{"time":"t","type":"function","record":"x"},7]`),
		[]byte(`[{"time":"t","type":"function","record":` + strings.Repeat("[", 400) + `}]`), // unterminated
		[]byte(`[{"time":"t","type":"function","record":"bad \x escape"}]`),
	}
	var good [][]byte
	for _, c := range b8Bodies() {
		good = append(good, c.body)
	}
	// Valid but deeper than any parser downstream accepts: forwarded with the record as a string.
	good = append(good, []byte(`[{"time":"t","type":"function","record":`+strings.Repeat("[", 400)+strings.Repeat("]", 400)+`}]`))
	good = append(good, piece(0), piece(1), piece(2)) // last: the check below rebuilds them

	var want [][]byte
	post := func(body []byte, status int) {
		t.Helper()
		resp, err := client.Post("http://"+srv.Addr()+Path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d for %.80q", resp.StatusCode, status, body)
		}
		if status == http.StatusOK {
			events, err := Split(body)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, events...)
		}
	}
	for i, g := range good {
		post(g, http.StatusOK)
		post(bad[i%len(bad)], http.StatusBadRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) != len(want) {
		t.Fatalf("%d events reached the sink, want %d", len(s.events), len(want))
	}
	for i := range want {
		if !bytes.Equal(s.events[i], want[i]) {
			t.Fatalf("event %d differs", i)
		}
	}
	var rebuilt strings.Builder
	for _, e := range s.events[len(s.events)-3:] {
		_, rec, _ := strings.Cut(string(e), `"record":"`)
		rebuilt.WriteString(strings.TrimSuffix(rec, `"}`))
	}
	if rebuilt.String() != line {
		t.Fatalf("the split record does not come back whole (%d bytes, want %d)", rebuilt.Len(), len(line))
	}
}
