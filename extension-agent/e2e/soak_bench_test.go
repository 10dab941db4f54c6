package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// B7: the agent's resident memory over a long run, and during a collector outage. The agent's
// process is found by its executable and its (unique) AZLENS_SPOOL_DIR, the no-op extension's by
// a BENCH_TAG variable, and VmRSS is read from /proc.

const soakDuration = 170 * time.Second

// BenchmarkSoakRSS (B7 soak): back-to-back invocations (5 log lines each) of a sandbox running
// the agent (adaptive, healthy collector) for about three minutes of wall time, in batches of
// 2,000; VmRSS of the agent after start (idle), after a 1,000-invocation warm-up, and after every
// batch; the least-squares slope of RSS over invocations after the warm-up, in KiB per 10k
// invocations (target ≈ 0) and its standard error (RSS moves by ±2 MiB with the GC cycle); the no-op extension's RSS, invoked once per batch, as the reference.
func BenchmarkSoakRSS(b *testing.B) {
	sink := newCountingCollector(b) // keeps nothing: collectortest.Sink would hold every batch
	agent, noop, agentPID, noopPID := agentBeside(b, benchSandbox, sink.URL(), "soak")
	idle := vmRSSKB(agentPID)
	payload := []byte(`{"mode":"log","n":5}`)
	run := func(sb *emulator.Sandbox, n int) {
		for range n {
			if _, _, err := invokeOnce(sb, payload); err != nil {
				b.Fatal(err)
			}
		}
	}
	const batch = 2000
	b.ResetTimer()
	start := time.Now()
	run(agent, 1000)
	warm := vmRSSKB(agentPID)
	var xs, ys []float64
	total := 1000
	maxKB := warm
	for b.N > 0 && time.Since(start) < soakDuration {
		run(agent, batch)
		run(noop, 1)
		total += batch
		kb := vmRSSKB(agentPID)
		xs = append(xs, float64(total))
		ys = append(ys, float64(kb))
		maxKB = max(maxKB, kb)
		b.Logf("after %6d invocations: agent RSS %6d KiB, noop %6d KiB", total, kb, vmRSSKB(noopPID))
	}
	b.StopTimer()
	b.ReportMetric(float64(total), "invocations")
	b.ReportMetric(float64(sink.requests.Load()), "batches")
	b.ReportMetric(float64(idle)/1024, "agent-idle-rss-MiB")
	b.ReportMetric(float64(warm)/1024, "agent-warm-rss-MiB")
	b.ReportMetric(float64(maxKB)/1024, "agent-max-rss-MiB")
	if len(ys) > 0 {
		b.ReportMetric(ys[len(ys)-1]/1024, "agent-final-rss-MiB")
	}
	sl, se := slope(xs, ys)
	b.ReportMetric(sl*10000, "agent-slope-KiB/10k-inv")
	b.ReportMetric(se*10000, "agent-slope-stderr-KiB/10k-inv")
	b.ReportMetric(float64(vmRSSKB(noopPID))/1024, "noop-rss-MiB")
	b.ReportMetric(float64(maxKB)/float64(max(vmRSSKB(noopPID), 1)), "agent-max/noop-rss")
}

// BenchmarkOutageRSS (B7 outage): the agent's RSS while its collector is down (sink closed) for
// 60 s of back-to-back invocations of 100 log lines each, sampled every second, against the
// configured buffer: AZLENS_MEMORY_LIMIT_BYTES (4 MiB) in memory and AZLENS_SPOOL_LIMIT_BYTES
// (32 MiB) on disk. Reports the RSS before the outage and its maximum during it, the growth ÷
// the memory limit, and the spool's size on disk ÷ its limit.
func BenchmarkOutageRSS(b *testing.B) {
	const memLimit, spoolLimit = 4 << 20, 32 << 20
	const outage = 60 * time.Second
	sink := collectortest.New(b)
	env := agentEnv(b, sink.URL(), "AZLENS_MEMORY_LIMIT_BYTES", fmt.Sprint(memLimit),
		"AZLENS_SPOOL_LIMIT_BYTES", fmt.Sprint(spoolLimit))
	agent := benchSandbox(b, agentPath, env)
	if err := agent.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer agent.Shutdown(context.Background(), emulator.ShutdownSpindown)
	pid := pidOf(agentPath, "AZLENS_SPOOL_DIR="+env["AZLENS_SPOOL_DIR"])
	if pid == 0 {
		b.Fatal("agent process not found")
	}
	payload := []byte(`{"mode":"log","n":100}`)
	for range 200 { // healthy warm-up
		if _, _, err := invokeOnce(agent, payload); err != nil {
			b.Fatal(err)
		}
	}
	before := vmRSSKB(pid)
	sink.Close()
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	maxKB, n := before, 0
	for time.Since(start) < outage {
		if _, _, err := invokeOnce(agent, payload); err != nil {
			b.Fatal(err)
		}
		n++
		select {
		case <-tick.C:
			maxKB = max(maxKB, vmRSSKB(pid))
		default:
		}
	}
	maxKB = max(maxKB, vmRSSKB(pid))
	b.StopTimer()
	spool := dirBytes(env["AZLENS_SPOOL_DIR"])
	b.ReportMetric(float64(n), "invocations")
	b.ReportMetric(float64(n*100)/outage.Seconds(), "log-lines/s")
	b.ReportMetric(float64(before)/1024, "agent-before-rss-MiB")
	b.ReportMetric(float64(maxKB)/1024, "agent-outage-max-rss-MiB")
	b.ReportMetric(float64((maxKB-before)*1024)/memLimit, "rss-growth/mem-limit")
	b.ReportMetric(float64(spool)/(1<<20), "spool-MiB")
	b.ReportMetric(float64(spool)/spoolLimit, "spool/spool-limit")
}
