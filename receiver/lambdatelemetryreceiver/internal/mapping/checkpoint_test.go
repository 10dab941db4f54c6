package mapping

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
)

func checkpointMapper() *Mapper {
	return New(Settings{CorrelationTimeout: time.Minute, MaxPending: 10, MaxEnvironments: 2, ScopeName: "test", Checkpoints: true})
}

// applySeq applies one invocation (request id id) as the agent batch seq.
func applySeq(t testing.TB, m *Mapper, seq int64, id string, now time.Time) Output {
	t.Helper()
	var d telemetryevent.Decoder
	b, err := d.DecodeEvents([]byte(strings.ReplaceAll(invocationBatch, `"r1"`, `"`+id+`"`)))
	if err != nil {
		t.Fatal(err)
	}
	b.Agent = &telemetryevent.Agent{Seq: seq, HasSeq: true}
	return m.Apply(resource("env-1"), b, uint64(seq), now)
}

// invocationPoint returns the summed faas.invocations of out and the start of their series.
func invocationPoint(t *testing.T, out Output) (int64, pcommon.Timestamp) {
	t.Helper()
	var n int64
	var start pcommon.Timestamp
	rms := out.Metrics.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if m := ms.At(j); m.Name() == contract.MetricInvocations && m.Type() == pmetric.MetricTypeSum {
				for k := 0; k < m.Sum().DataPoints().Len(); k++ {
					dp := m.Sum().DataPoints().At(k)
					n += dp.IntValue()
					start = dp.StartTimestamp()
				}
			}
		}
	}
	return n, start
}

// TestCheckpointContinuesTheSeries: a mapper restored from an environment's checkpoint emits
// that environment's series where the checkpoint left them (same start, counts going on), which
// is what makes a batch applied by a killed collector and again by its successor count once.
func TestCheckpointContinuesTheSeries(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	killed := checkpointMapper()
	first := applySeq(t, killed, 1, "r1", t0)
	if first.Checkpoint.Data == nil {
		t.Fatal("no checkpoint for an agent batch with a seq")
	}
	// The killed process applies and exports batch 2, then dies before recording it.
	exported, killedStart := invocationPoint(t, applySeq(t, killed, 2, "r2", t0.Add(time.Second)))

	successor := checkpointMapper()
	if err := successor.Restore(EnvKey(resource("env-1")), first.Checkpoint.Data, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Batch 2 retried to the successor, on a clock that went back (NTP): the version still grows.
	retried := applySeq(t, successor, 2, "r2", t0.Add(-time.Hour))
	got, start := invocationPoint(t, retried)
	if got != exported || start != killedStart {
		t.Fatalf("successor emitted %d invocations from %v; the killed process emitted %d from %v: a different point of one series counts the batch twice",
			got, start, exported, killedStart)
	}
	if retried.Checkpoint.Version <= first.Checkpoint.Version {
		t.Fatalf("checkpoint version went %d → %d, want it to grow", first.Checkpoint.Version, retried.Checkpoint.Version)
	}
	// The histograms went on too.
	var h pmetric.HistogramDataPoint
	rms := retried.Metrics.ResourceMetrics()
	for j := 0; j < rms.At(0).ScopeMetrics().At(0).Metrics().Len(); j++ {
		if m := rms.At(0).ScopeMetrics().At(0).Metrics().At(j); m.Name() == contract.MetricInvokeDuration {
			h = m.Histogram().DataPoints().At(0)
		}
	}
	if h.Count() != 2 {
		t.Fatalf("invoke duration histogram counts %d, want 2 (one restored, one applied)", h.Count())
	}

	// A mapper that already knows the environment keeps its own, newer state.
	if err := successor.Restore(EnvKey(resource("env-1")), first.Checkpoint.Data, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := invocationPoint(t, applySeq(t, successor, 3, "r3", t0)); got != 3 {
		t.Fatalf("after a Restore of a known environment: %d invocations, want 3", got)
	}

	if out := applySeq(t, newTestMapper(), 1, "r1", t0); out.Checkpoint.Data != nil {
		t.Fatal("a checkpoint without Settings.Checkpoints")
	}
}

// TestRestoreRejects: what cannot be continued exactly is refused with the reason, the mapper
// left as it was.
func TestRestoreRejects(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	good := applySeq(t, checkpointMapper(), 1, "r1", t0).Checkpoint.Data
	otherBounds := bytes.Clone(good)
	otherBounds[1+8+8+4*8+3*8]++ // the first histogram's bucket count
	wrongFormat := bytes.Clone(good)
	wrongFormat[0] = 9
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"truncated":      {good[:len(good)-3], "truncated"},
		"empty":          {nil, "truncated"},
		"trailing bytes": {append(bytes.Clone(good), 0), "1 bytes after its end"},
		"other bounds":   {otherBounds, "buckets, this build has"},
		"format":         {wrongFormat, "checkpoint format 9"},
	} {
		t.Run(name, func(t *testing.T) {
			m := checkpointMapper()
			err := m.Restore("k", tc.data, t0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want an error containing %q", err, tc.want)
			}
			if len(m.envs) != 0 {
				t.Fatal("a refused checkpoint left an environment behind")
			}
		})
	}
	m := checkpointMapper()
	for _, k := range []string{"a", "b"} {
		if err := m.Restore(k, good, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Restore("c", good, t0); err == nil || !strings.Contains(err.Error(), "max_environments (2)") {
		t.Fatalf("Restore beyond max_environments: %v", err)
	}
}

// FuzzDecodeCheckpoint: checkpoints are read back from a storage file at start; whatever it holds
// must not panic, and what decodes encodes to the same bytes.
func FuzzDecodeCheckpoint(f *testing.F) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := checkpointMapper()
	f.Add(applySeq(f, m, 1, "r1", t0).Checkpoint.Data)
	f.Add(applySeq(f, m, 2, "r2", t0).Checkpoint.Data)
	f.Add([]byte{checkpointFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		var env environment
		env.metrics.init()
		if err := env.restore(b); err != nil {
			return
		}
		if got := env.encodeState(); !bytes.Equal(got, b) {
			t.Fatalf("decode→encode changed %x into %x", b, got)
		}
	})
}
