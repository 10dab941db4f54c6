package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// Benchmarks B4, B6, B7 of docs/benchmark-suite.md. Every figure of the agent is reported beside the
// same figure for the reference (a no-op extension built the same way, and no extension at all),
// measured in the same run, alternating between them.

func benchSandbox(b *testing.B, ext string, env map[string]string) *emulator.Sandbox {
	return processSandbox(b, "bench", functionPath, ext, env)
}

// processSandbox is a process-mode sandbox running the function at path beside ext (none when
// empty).
func processSandbox(b *testing.B, name, path, ext string, env map[string]string) *emulator.Sandbox {
	b.Helper()
	var exts []emulator.Extension
	if ext != "" {
		exts = []emulator.Extension{&emulator.ProcessExtension{Path: ext}}
	}
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{Function: emulator.Function{
		Name: name, Timeout: 10 * time.Second, Env: env,
		Runtime:    &emulator.ProcessRuntime{Path: path},
		Extensions: exts,
	}})
	if err != nil {
		b.Fatal(err)
	}
	return sb
}

func agentEnv(b *testing.B, endpoint string, extra ...string) map[string]string {
	env := map[string]string{"AZLENS_COLLECTOR_ENDPOINT": endpoint, "AZLENS_SPOOL_DIR": b.TempDir()}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func median(d []time.Duration) time.Duration { return quantile(d, 0.5) }

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkReadyTime (B6): sandbox init (exec → register → subscribe → every extension at
// /event/next → runtime ready) with the agent vs the no-op extension; and the stripped sizes.
func BenchmarkReadyTime(b *testing.B) {
	sink := collectortest.New(b)
	var noop, agent []time.Duration
	for i := 0; i < b.N; i++ {
		for _, v := range []struct {
			path string
			env  map[string]string
			out  *[]time.Duration
		}{{noopPath, nil, &noop}, {agentPath, agentEnv(b, sink.URL()), &agent}} {
			sb := benchSandbox(b, v.path, v.env)
			start := time.Now()
			if err := sb.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			*v.out = append(*v.out, time.Since(start))
			_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
		}
	}
	b.ReportMetric(ms(median(noop)), "noop-ready-ms")
	b.ReportMetric(ms(median(agent)), "agent-ready-ms")
	b.ReportMetric(ms(median(agent)-median(noop)), "delta-ready-ms")
	for name, p := range map[string]string{"agent": agentPath, "noop": noopPath} {
		if fi, err := os.Stat(p); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), name+"-binary-MiB")
		}
	}
}

// BenchmarkInvokeOverhead (B4): back-to-back invocations, round-robin over sandboxes without
// extension, with the no-op extension, and with the agent (adaptive and end modes): response
// latency (invoke → answer) and post-runtime time (answer → invocation complete), p50 and p99.
// Then (B7) the resident memory of the agent and the no-op extension, idle after the run.
func BenchmarkInvokeOverhead(b *testing.B) {
	sink := collectortest.New(b)
	variants := []struct {
		name string
		ext  string
		env  map[string]string
	}{
		{"none", "", nil},
		{"noop", noopPath, nil},
		{"agent", agentPath, agentEnv(b, sink.URL())},
		{"agent-end", agentPath, agentEnv(b, sink.URL(), "AZLENS_FLUSH_MODE", "end")},
	}
	sbs := make([]*emulator.Sandbox, len(variants))
	for i, v := range variants {
		sbs[i] = benchSandbox(b, v.ext, v.env)
		if err := sbs[i].Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer sbs[i].Shutdown(context.Background(), emulator.ShutdownSpindown)
	}
	resp := make([][]time.Duration, len(variants))
	post := make([][]time.Duration, len(variants))
	payload := []byte(`{"mode":"log","n":5}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, sb := range sbs {
			start := time.Now()
			res, err := sb.Invoke(context.Background(), &emulator.InvokeRequest{Payload: payload})
			if err != nil {
				b.Fatal(err)
			}
			answered := time.Now()
			<-res.Done
			resp[j] = append(resp[j], answered.Sub(start))
			post[j] = append(post[j], time.Since(answered))
		}
	}
	b.StopTimer()
	for j, v := range variants {
		b.ReportMetric(ms(quantile(resp[j], 0.5)), v.name+"-resp-p50-ms")
		b.ReportMetric(ms(quantile(resp[j], 0.99)), v.name+"-resp-p99-ms")
		b.ReportMetric(ms(quantile(post[j], 0.5)), v.name+"-post-p50-ms")
		b.ReportMetric(ms(quantile(post[j], 0.99)), v.name+"-post-p99-ms")
	}
	for _, p := range []string{noopPath, agentPath} {
		if kb := rssKB(p); kb > 0 {
			b.ReportMetric(float64(kb)/1024, filepath.Base(p)+"-rss-MiB")
		}
	}
}

// BenchmarkOutageMemory (B7): the agent's resident memory after b.N invocations of 100 log lines
// each with the collector answering 503 — bounded by AZLENS_MEMORY_LIMIT_BYTES (4 MiB default),
// the rest spooled — beside the no-op extension's.
func BenchmarkOutageMemory(b *testing.B) {
	sink := collectortest.New(b)
	sink.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	agent := benchSandbox(b, agentPath, agentEnv(b, sink.URL()))
	noop := benchSandbox(b, noopPath, nil)
	for _, sb := range []*emulator.Sandbox{agent, noop} {
		if err := sb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
	}
	payload := []byte(`{"mode":"log","n":100}`)
	for i := 0; i < b.N; i++ {
		for _, sb := range []*emulator.Sandbox{agent, noop} {
			res, err := sb.Invoke(context.Background(), &emulator.InvokeRequest{Payload: payload})
			if err != nil {
				b.Fatal(err)
			}
			<-res.Done
		}
	}
	b.StopTimer()
	for _, p := range []string{noopPath, agentPath} {
		if kb := rssKB(p); kb > 0 {
			b.ReportMetric(float64(kb)/1024, filepath.Base(p)+"-rss-MiB")
		}
	}
}

// rssKB is the VmRSS of the (first) running process whose executable is path.
func rssKB(path string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if exe, err := os.Readlink(filepath.Join(p, "exe")); err == nil && exe == path {
			pid, _ := strconv.Atoi(filepath.Base(p))
			if kb := vmRSSKB(pid); kb > 0 {
				return kb
			}
		}
	}
	fmt.Fprintf(os.Stderr, "rss: no process runs %s\n", path)
	return 0
}

// BenchmarkFreshness (B5): time from an invocation's answer to its runtimeDone being accepted by
// the collector, back to back (a busy function), per flush configuration; the reference is the
// subscription's timeoutMs (25 ms), the earliest Lambda delivers runtimeDone to any extension.
func BenchmarkFreshness(b *testing.B) {
	variants := []struct {
		name string
		env  []string
	}{
		{"end", []string{"AZLENS_FLUSH_MODE", "end"}},
		{"adaptive", nil},
		{"adaptive-age100ms", []string{"AZLENS_BATCH_MAX_AGE_MS", "100"}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			sink := collectortest.New(b)
			sb := benchSandbox(b, agentPath, agentEnv(b, sink.URL(), v.env...))
			if err := sb.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			answered := map[string]time.Time{}
			for i := 0; i < b.N; i++ {
				res, err := sb.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(`{"mode":"log","n":5}`)})
				if err != nil {
					b.Fatal(err)
				}
				answered[res.RequestID] = time.Now()
				<-res.Done
			}
			b.StopTimer()
			_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
			var fresh []time.Duration
			for _, batch := range sink.Batches() {
				for _, e := range batch.Events {
					if t0, ok := answered[e.RequestID()]; ok && e.Type == "platform.runtimeDone" {
						fresh = append(fresh, batch.Received.Sub(t0))
					}
				}
			}
			b.ReportMetric(ms(quantile(fresh, 0.5)), "fresh-p50-ms")
			b.ReportMetric(ms(quantile(fresh, 0.99)), "fresh-p99-ms")
		})
	}
}
