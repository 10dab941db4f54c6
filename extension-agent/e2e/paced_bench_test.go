package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// B4 at paced rates. Every variant runs in its own sandbox, all at the same time, each paced
// open-loop by its own ticker at the rate (staggered by a fraction of the period so they do not
// fire together); a variant whose invocation outlasts the period loses ticks (the environment
// takes one invocation at a time, as on Lambda) and its achieved rate is reported.

type pacedVariant struct {
	name string
	ext  string
	env  map[string]string
}

type pacedResult struct {
	resp, post []time.Duration
	elapsed    time.Duration
}

func runPaced(b *testing.B, rate, n int, vs []pacedVariant) []pacedResult {
	b.Helper()
	sbs := make([]*emulator.Sandbox, len(vs))
	for i, v := range vs {
		sbs[i] = benchSandbox(b, v.ext, v.env)
		if err := sbs[i].Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer sbs[i].Shutdown(context.Background(), emulator.ShutdownSpindown)
	}
	payload := []byte(`{"mode":"log","n":5}`)
	for range 3 { // warm-up, not measured
		for _, sb := range sbs {
			if _, _, err := invokeOnce(sb, payload); err != nil {
				b.Fatal(err)
			}
		}
	}
	return pace(b, rate, n, sbs, payload, nil)
}

// pace runs n invocations per sandbox at rate per second; before (optional) runs once all
// sandboxes are warm, just before the measured part.
func pace(b *testing.B, rate, n int, sbs []*emulator.Sandbox, payload []byte, before func()) []pacedResult {
	b.Helper()
	if before != nil {
		before()
	}
	period := time.Second / time.Duration(rate)
	res := make([]pacedResult, len(sbs))
	errs := make([]error, len(sbs))
	var wg sync.WaitGroup
	b.ResetTimer()
	for j, sb := range sbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-time.After(period * time.Duration(j) / time.Duration(len(sbs)))
			tk := time.NewTicker(period)
			defer tk.Stop()
			t0 := time.Now()
			for i := range n {
				if i > 0 {
					<-tk.C
				}
				r, p, err := invokeOnce(sb, payload)
				if err != nil {
					errs[j] = err
					return
				}
				res[j].resp = append(res[j].resp, r)
				res[j].post = append(res[j].post, p)
			}
			res[j].elapsed = time.Since(t0)
		}()
	}
	wg.Wait()
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return res
}

func reportPaced(b *testing.B, vs []pacedVariant, res []pacedResult, ref string) {
	p99 := map[string][2]float64{}
	for j, v := range vs {
		r := res[j]
		b.ReportMetric(ms(quantile(r.resp, 0.5)), v.name+"-resp-p50-ms")
		b.ReportMetric(ms(quantile(r.resp, 0.99)), v.name+"-resp-p99-ms")
		b.ReportMetric(ms(quantile(r.post, 0.5)), v.name+"-post-p50-ms")
		b.ReportMetric(ms(quantile(r.post, 0.99)), v.name+"-post-p99-ms")
		if len(r.resp) > 1 && r.elapsed > 0 {
			b.ReportMetric(float64(len(r.resp)-1)/r.elapsed.Seconds(), v.name+"-invokes/s")
		}
		p99[v.name] = [2]float64{ms(quantile(r.resp, 0.99)), ms(quantile(r.post, 0.99))}
	}
	b.ReportMetric(float64(len(res[0].resp)), "samples")
	for _, v := range vs {
		if v.ext != agentPath {
			continue
		}
		b.ReportMetric(p99[v.name][0]-p99[ref][0], v.name+"-resp-dp99-ms")
		b.ReportMetric(p99[v.name][1]-p99[ref][1], v.name+"-post-dp99-ms")
	}
}

// BenchmarkInvokeOverheadPaced (B4): response latency (invoke → answer) and post-runtime time
// (answer → invocation complete) at 1, 10 and 100 invocations/s, for no extension, the no-op
// extension, the agent (adaptive) and the agent in `end` mode; Δp99 against the no-op extension.
// Then, at 5/s in `end` mode (what adaptive does for a function invoked less than once a second),
// with the collector down (sink closed) and slow (answering after 500 ms): post-runtime p99
// against the configured cap AZLENS_FLUSH_TIMEOUT_MS (200 ms here). Samples per variant and
// rate: 30 / 200 / 1000 (× b.N; run with -benchtime 1x), 50 for down and slow. With 30 samples p99
// is the maximum.
func BenchmarkInvokeOverheadPaced(b *testing.B) {
	for _, rc := range []struct{ rate, n int }{{1, 30}, {10, 200}, {100, 1000}} {
		b.Run("rate="+strconv.Itoa(rc.rate), func(b *testing.B) {
			sink := collectortest.New(b)
			vs := []pacedVariant{
				{"none", "", nil},
				{"noop", noopPath, nil},
				{"agent", agentPath, agentEnv(b, sink.URL())},
				{"agent-end", agentPath, agentEnv(b, sink.URL(), "AZLENS_FLUSH_MODE", "end")},
			}
			reportPaced(b, vs, runPaced(b, rc.rate, rc.n*b.N, vs), "noop")
		})
	}
	const capMS = 200
	for _, collector := range []string{"down", "slow"} {
		b.Run("collector="+collector, func(b *testing.B) {
			sink := collectortest.New(b)
			vs := []pacedVariant{
				{"noop", noopPath, nil},
				{"agent-end", agentPath, agentEnv(b, sink.URL(), "AZLENS_FLUSH_MODE", "end",
					"AZLENS_FLUSH_TIMEOUT_MS", strconv.Itoa(capMS))},
			}
			sbs := make([]*emulator.Sandbox, len(vs))
			for i, v := range vs {
				sbs[i] = benchSandbox(b, v.ext, v.env)
				if err := sbs[i].Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				defer sbs[i].Shutdown(context.Background(), emulator.ShutdownSpindown)
			}
			payload := []byte(`{"mode":"log","n":5}`)
			for range 3 { // warm-up with a healthy collector
				for _, sb := range sbs {
					if _, _, err := invokeOnce(sb, payload); err != nil {
						b.Fatal(err)
					}
				}
			}
			res := pace(b, 5, 50*b.N, sbs, payload, func() {
				if collector == "down" {
					sink.Close()
				} else {
					sink.Respond(func(int) collectortest.Response {
						<-time.After(500 * time.Millisecond)
						return collectortest.Response{}
					})
				}
			})
			reportPaced(b, vs, res, "noop")
			p99 := ms(quantile(res[1].post, 0.99))
			b.ReportMetric(capMS, "cap-ms")
			b.ReportMetric(p99/capMS, "agent-end-post-p99/cap")
			if p99 > capMS {
				b.Logf("post-runtime p99 %.1f ms above the %d ms cap", p99, capMS)
			}
			b.Log(fmt.Sprintf("collector %s: agent-end post-runtime p99 %.1f ms, max %.1f ms, cap %d ms",
				collector, p99, ms(quantile(res[1].post, 1)), capMS))
		})
	}
}
