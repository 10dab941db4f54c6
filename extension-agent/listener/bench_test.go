package listener

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

type discard struct{}

func (discard) Add([][]byte, int) {}

// BenchmarkIngest (B2): Telemetry POSTs of 256 KiB, 1 MiB and 2 MiB (1 KB log lines) over
// loopback HTTP to the agent's listener and, alternating in the same loop, to a null net/http
// handler that only reads the body. Reports both throughputs and their ratio (target ≥ 0.6).
func BenchmarkIngest(b *testing.B) {
	null, err := Listen("127.0.0.1", 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Shutdown(context.Background())
	agent, err := Listen("127.0.0.1", 0, NewHandler(discard{}, nil, nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, c := range []struct {
		name  string
		lines int
	}{{"256KiB", 256}, {"1MiB", 1024}, {"2MiB", 2048}} {
		body := logBody(c.lines, 1000)
		b.Run(c.name, func(b *testing.B) {
			var tNull, tAgent time.Duration
			send := func(addr string) time.Duration {
				start := time.Now()
				resp, err := client.Post("http://"+addr+Path, "application/json", bytes.NewReader(body))
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
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				tNull += send(null.Addr())
				tAgent += send(agent.Addr())
			}
			mb := float64(len(body)*b.N) / (1 << 20)
			b.ReportMetric(mb/tNull.Seconds(), "null-MiB/s")
			b.ReportMetric(mb/tAgent.Seconds(), "agent-MiB/s")
			b.ReportMetric(tNull.Seconds()/tAgent.Seconds(), "ratio")
		})
	}
}
