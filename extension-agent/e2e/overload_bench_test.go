package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
)

// BenchmarkB8LogsDropped (B8): the log rate at which the embedded runtime's Telemetry hub starts
// dropping records for — and so sending platform.logsDropped to — the agent, against a null
// listener (testdata/nullsub: subscribed the same way, answers every POST at once and does
// nothing else). A function prints lines of 1,000 or 16,000 bytes (one write each), 4 MiB per
// invocation doubling to 1 GiB; each step invokes the agent's sandbox then the null
// listener's, one at a time, and waits until the hub has delivered everything before the next.
// The hub holds up to 4 MiB per subscriber (telemetry.DefaultMaxQueueBytes), so drops begin once
// a burst outruns delivery by that much. Reports per subscriber the first volume with drops
// (onset-MiB), the function's log rate (bytes ÷ invocation duration) in that invocation, the
// highest rate without drops, and the agent's rates ÷ the null listener's. A subscriber that
// never dropped reports onset 0.
func BenchmarkB8LogsDropped(b *testing.B) {
	buildExtra(b)
	for _, size := range []int{1000, 16000} {
		b.Run(fmt.Sprintf("line=%dB", size), func(b *testing.B) { logsDroppedOnset(b, size) })
	}
}

func logsDroppedOnset(b *testing.B, size int) {
	col := newCountingCollector(b)
	type variant struct {
		name     string
		sb       *emulator.Sandbox
		onsetN   int
		maxN     int     // the largest burst tried
		onsetMiB float64 // MiB/s at onset
		cleanMiB float64 // highest MiB/s without drops
		dropped  uint64
	}
	mk := func(ext string, env map[string]string) *emulator.Sandbox {
		sb, err := emulator.NewSandbox(emulator.SandboxConfig{Function: emulator.Function{
			Name: "b8", Timeout: 60 * time.Second, Env: env,
			Runtime:    &emulator.ProcessRuntime{Path: biglinePath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: ext}},
		}})
		if err != nil {
			b.Fatal(err)
		}
		if err := sb.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		return sb
	}
	vs := []*variant{
		{name: "agent", sb: mk(agentPath, agentEnv(b, col.URL()))},
		{name: "null", sb: mk(nullsubPath, nil)},
	}
	defer func() {
		for _, v := range vs {
			_ = v.sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
		}
	}()
	b.ResetTimer()
	for range b.N {
		for _, v := range vs {
			v.onsetN, v.maxN, v.onsetMiB, v.cleanMiB = 0, 0, 0, 0
		}
		for vol := 4 << 20; vol <= 1<<30; vol *= 2 {
			n := vol / size
			for _, v := range vs {
				if v.onsetN != 0 {
					continue
				}
				v.maxN = n
				before := v.sb.TelemetryStats().DroppedRecords
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				res, err := v.sb.Invoke(ctx, &emulator.InvokeRequest{Payload: fmt.Appendf(nil, `{"lines":%d,"size":%d}`, n, size)})
				if err != nil || res.Status != "success" {
					cancel()
					b.Fatalf("%s: invoke %d lines: %v %+v", v.name, n, err, res)
				}
				<-res.Done
				cancel()
				drain(v.sb)
				rate := float64(n*size) / (1 << 20) / res.Duration.Seconds()
				if d := v.sb.TelemetryStats().DroppedRecords - before; d > 0 {
					v.onsetN, v.onsetMiB, v.dropped = n, rate, v.dropped+d
				} else {
					v.cleanMiB = max(v.cleanMiB, rate)
				}
			}
		}
	}
	b.StopTimer()
	for _, v := range vs {
		b.ReportMetric(float64(v.onsetN*size)/(1<<20), v.name+"-onset-MiB")
		b.ReportMetric(v.onsetMiB, v.name+"-onset-MiB/s")
		b.ReportMetric(float64(v.maxN*size)/(1<<20), v.name+"-max-tried-MiB")
		b.ReportMetric(v.cleanMiB, v.name+"-clean-max-MiB/s")
		b.ReportMetric(float64(v.dropped), v.name+"-dropped-records")
	}
	if vs[1].onsetMiB > 0 {
		b.ReportMetric(vs[0].onsetMiB/vs[1].onsetMiB, "onset-ratio")
	}
	if vs[1].cleanMiB > 0 {
		b.ReportMetric(vs[0].cleanMiB/vs[1].cleanMiB, "clean-max-ratio")
	}
	// The agent forwards what it is told was dropped: flush it out, then count at the collector.
	_ = vs[0].sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
	b.ReportMetric(float64(col.logsDropped.Load()), "agent-logsDropped-forwarded")
}

// drain waits (polling, at most 30 s) until the hub has delivered or dropped every record emitted.
func drain(sb *emulator.Sandbox) {
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := sb.TelemetryStats()
		if st.Delivered+st.DroppedRecords >= st.Emitted {
			return
		}
		<-tk.C
	}
}
