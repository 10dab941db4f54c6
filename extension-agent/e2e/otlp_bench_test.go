package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// clientLatencies runs n invocations on sb the way a back-to-back client does: the next request
// leaves as soon as the previous answer arrives (it then waits for the environment, held or not),
// and returns each request's latency as that client sees it.
func clientLatencies(b *testing.B, sb *emulator.Sandbox, n int, payload []byte) []time.Duration {
	out := make([]time.Duration, 0, n)
	var last *emulator.InvokeResult
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now()
		res, err := sb.Invoke(ctx, &emulator.InvokeRequest{Payload: payload})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(start))
		last = res
	}
	<-last.Done
	return out
}

// BenchmarkFirstInvocations (B4, right after init): each iteration starts fresh sandboxes without
// extension, with the agent (default, adaptive) and with nullsub (an extension subscribed to the
// Telemetry API like the agent, whose listener discards every POST), then sends 200 back-to-back
// invocations to each, alternating, from the first one after init. Client p99 of each and the
// difference: the agent must add ≤ 1 ms although it knows nothing of the rate at the first
// invocation.
//
// The agent sends to a collector that reads each batch and answers 200 without decoding it. On
// Lambda the collector runs on another machine; one decoding every batch here (collectortest's
// encoding/json) takes CPU from the function's two cores and, measured on 2026-12-06, made about
// half of the difference: agent − none 0.72–1.38 ms with it (7 runs of 3), 0.29–0.97 ms
// without (6 runs of 3).
func BenchmarkFirstInvocations(b *testing.B) {
	const calls = 200
	sink := discardingCollector(b)
	payload := []byte(`{"mode":"log","n":5}`)
	var none, agent, nullsub []time.Duration
	for i := 0; i < b.N; i++ {
		sbs := []*emulator.Sandbox{benchSandbox(b, "", nil), benchSandbox(b, agentPath, agentEnv(b, sink.url)), benchSandbox(b, nullsubPath, nil)}
		for _, sb := range sbs {
			if err := sb.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		// Alternate in blocks of 10 so both see the same moments of the machine.
		for j := 0; j < calls; j += 10 {
			none = append(none, clientLatencies(b, sbs[0], 10, payload)...)
			agent = append(agent, clientLatencies(b, sbs[1], 10, payload)...)
			nullsub = append(nullsub, clientLatencies(b, sbs[2], 10, payload)...)
		}
		for _, sb := range sbs {
			_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
		}
	}
	if sink.bytes.Load() == 0 {
		b.Fatal("the agent sent the collector nothing")
	}
	b.ReportMetric(ms(quantile(nullsub, 0.99)), "nullsub-first-p99-ms")
	b.ReportMetric(ms(quantile(none, 0.99)), "none-first-p99-ms")
	b.ReportMetric(ms(quantile(agent, 0.99)), "agent-first-p99-ms")
	b.ReportMetric(ms(quantile(agent, 0.99))-ms(quantile(none, 0.99)), "first-dp99-ms")
	b.ReportMetric(ms(quantile(agent, 1)), "agent-first-max-ms")
}

// BenchmarkSDKExport: examples/hello (OTel SDK + otellambda, flushing spans and the counter at
// every invocation's end) with the agent receiving its OTLP, against the same function and agent
// with the OTLP endpoint off and the SDK exporting to a closed port ("nowhere": the export fails at
// once). Back to back; response p99 of each and the difference: what taking over the OTel layer's
// job costs the function.
func BenchmarkSDKExport(b *testing.B) {
	sink := collectortest.New(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	mk := func(env map[string]string) *emulator.Sandbox {
		sb, err := emulator.NewSandbox(emulator.SandboxConfig{Function: emulator.Function{
			Name: "hello", Timeout: 10 * time.Second, Env: env,
			Runtime:    &emulator.ProcessRuntime{Path: helloPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		if err := sb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown) })
		return sb
	}
	nowhere := agentEnv(b, sink.URL(), "AZLENS_OTLP_ENDPOINT", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+closed)
	sbs := []*emulator.Sandbox{mk(nowhere), mk(agentEnv(b, sink.URL()))}
	resp := make([][]time.Duration, 2)
	payload := []byte(`{"name":"bench"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, sb := range sbs {
			r, _, err := invokeOnce(sb, payload)
			if err != nil {
				b.Fatal(err)
			}
			resp[j] = append(resp[j], r)
		}
	}
	b.StopTimer()
	b.ReportMetric(ms(quantile(resp[0], 0.99)), "nowhere-resp-p99-ms")
	b.ReportMetric(ms(quantile(resp[1], 0.99)), "agent-resp-p99-ms")
	b.ReportMetric(ms(quantile(resp[1], 0.99))-ms(quantile(resp[0], 0.99)), "sdk-dp99-ms")
	b.ReportMetric(ms(quantile(resp[0], 0.5)), "nowhere-resp-p50-ms")
	b.ReportMetric(ms(quantile(resp[1], 0.5)), "agent-resp-p50-ms")
}

// discarding is a collector that answers every agent batch 200 after reading it and decodes
// nothing; bytes counts what it read.
type discarding struct {
	url   string
	bytes atomic.Int64
}

func discardingCollector(b *testing.B) *discarding {
	d := &discarding{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		d.bytes.Add(n)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":0}`)
	}))
	b.Cleanup(srv.Close)
	d.url = srv.URL
	return d
}
