package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/procstat"
)

// BenchmarkIdleRSS (B7 idle, issue 11's "≤ 10 MB RSS idle"): the agent's resident memory beside
// examples/hello (OTel SDK + otellambda exporting spans, a metric point and a log record to the
// agent at every invocation's end), healthy collector, adaptive mode: right after init
// (registered, subscribed, no invocation); after 1,000 back-to-back invocations, once the last one
// completed; and after one more invocation that follows a quiet gap (held, so trimmed). The no-op extension (built the same way, beside the same function) is the
// reference, read at the same points. RssAnon (heap, stacks) and RssFile (the binary's pages
// touched) are reported apart: what the agent can change is the first.
func BenchmarkIdleRSS(b *testing.B) {
	const n = 1000
	sink := newCountingCollector(b)
	agent, noop, agentPID, noopPID := agentBeside(b, helloSandbox, sink.URL(), "idle")
	// Read now, reported at the end: ResetTimer deletes metrics reported before it.
	type sample struct {
		when        string
		agent, noop map[string]int
	}
	samples := []sample{{"init", procKB(agentPID), procKB(noopPID)}}
	payload := []byte(`{"name":"idle"}`)
	b.ResetTimer()
	for range max(b.N, 1) {
		for range n {
			for _, sb := range []*emulator.Sandbox{agent, noop} {
				if _, _, err := invokeOnce(sb, payload); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.StopTimer()
	samples = append(samples, sample{strconv.Itoa(n), procKB(agentPID), procKB(noopPID)})
	// Then the function goes quiet: the next invocation comes after a gap adaptive mode reads as
	// idle (mean of the last 3 gaps above the 1 s flush interval), so its end is held — and the
	// agent trims its heap while it waits for runtimeDone. The gap is the workload's shape, not a
	// wait for a condition.
	<-time.After(3500 * time.Millisecond)
	for _, sb := range []*emulator.Sandbox{agent, noop} {
		if _, _, err := invokeOnce(sb, payload); err != nil {
			b.Fatal(err)
		}
	}
	samples = append(samples, sample{"quiet", procKB(agentPID), procKB(noopPID)})
	for _, s := range samples {
		b.ReportMetric(float64(s.agent["VmRSS"])/1024, "agent-"+s.when+"-rss-MiB")
		b.ReportMetric(float64(s.agent["RssAnon"])/1024, "agent-"+s.when+"-anon-MiB")
		b.ReportMetric(float64(s.agent["RssFile"])/1024, "agent-"+s.when+"-file-MiB")
		b.ReportMetric(float64(s.noop["VmRSS"])/1024, "noop-"+s.when+"-rss-MiB")
		b.ReportMetric(float64(s.noop["RssAnon"])/1024, "noop-"+s.when+"-anon-MiB")
		b.ReportMetric(float64(s.agent["VmRSS"])/float64(max(s.noop["VmRSS"], 1)), "agent/noop-"+s.when+"-rss")
	}
	b.ReportMetric(float64(sink.requests.Load()), "batches")
}

// helloSandbox is a process-mode sandbox running examples/hello beside ext (none when empty).
func helloSandbox(b *testing.B, ext string, env map[string]string) *emulator.Sandbox {
	return processSandbox(b, "hello", helloPath, ext, env)
}

// procKB reads the memory figures of /proc/pid/status the benchmark reports (kB); a figure the
// kernel does not give is 0.
func procKB(pid int) map[string]int {
	out := map[string]int{}
	for _, field := range []string{"VmRSS", "RssAnon", "RssFile"} {
		kb, _ := procstat.StatusKB(pid, field)
		out[field] = int(kb)
	}
	return out
}
