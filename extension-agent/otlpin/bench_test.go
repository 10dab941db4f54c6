package otlpin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type discard struct{}

func (discard) AddOTLP(string, string, []byte) {}

// spansBody is an ExportTraceServiceRequest of n spans with a few attributes each, as the SDK
// writes them (pdata's encoder is the same wire format).
func spansBody(tb testing.TB, n int) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "fn")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range n {
		sp := spans.AppendEmpty()
		sp.SetName("span-" + strconv.Itoa(i))
		sp.SetTraceID(pcommon.TraceID{byte(i), 1})
		sp.SetSpanID(pcommon.SpanID{byte(i), 2})
		sp.Attributes().PutStr("http.route", "/orders/{id}")
		sp.Attributes().PutInt("http.status_code", 200)
		sp.Attributes().PutStr("faas.invocation_id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkIngest: OTLP/HTTP protobuf trace exports over loopback to the agent's endpoint and,
// alternating in the same loop, to a null net/http handler that only reads the body. Reports both
// throughputs and their ratio.
func BenchmarkIngest(b *testing.B) {
	null, err := Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	if err != nil {
		b.Fatal(err)
	}
	defer null.Shutdown(context.Background())
	agent, err := Listen("127.0.0.1:0", NewHandler(discard{}, nil, 64<<20, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Shutdown(context.Background())
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, n := range []int{10, 512, 4096} {
		body := spansBody(b, n)
		b.Run(strconv.Itoa(n)+"spans", func(b *testing.B) {
			var tNull, tAgent time.Duration
			send := func(addr string) time.Duration {
				start := time.Now()
				resp, err := client.Post("http://"+addr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
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
