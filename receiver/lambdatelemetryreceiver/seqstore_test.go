package lambdatelemetryreceiver

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/telemetryevent"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/mapping"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// memStorage is a storage extension whose data outlive the receivers using it, as a file does
// a collector process. It hands every receiver the same key space.
type memStorage struct {
	mu      sync.Mutex
	data    map[string][]byte
	failSet error // returned by writes while set
	noWalk  bool  // a client without storage.Walker
}

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}} }

func (m *memStorage) Start(context.Context, component.Host) error { return nil }
func (m *memStorage) Shutdown(context.Context) error              { return nil }

func (m *memStorage) GetClient(_ context.Context, kind component.Kind, _ component.ID, _ string) (storage.Client, error) {
	if kind != component.KindReceiver {
		return nil, errors.New("not asked for by a receiver")
	}
	if m.noWalk {
		return struct{ storage.Client }{&memClient{m}}, nil
	}
	return &memClient{m}, nil
}

func (m *memStorage) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.data))
}

type memClient struct{ m *memStorage }

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return bytes.Clone(c.m.data[key]), nil
}

func (c *memClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *memClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.failSet != nil {
		return c.m.failSet
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = bytes.Clone(c.m.data[op.Key])
		case storage.Set:
			c.m.data[op.Key] = bytes.Clone(op.Value)
		case storage.Delete:
			delete(c.m.data, op.Key)
		}
	}
	return nil
}

func (c *memClient) Walk(_ context.Context, fn storage.WalkFunc) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	var ops []*storage.Operation
	for _, k := range slices.Sorted(maps.Keys(c.m.data)) {
		o, err := fn(k, bytes.Clone(c.m.data[k]))
		if errors.Is(err, storage.SkipAll) {
			break
		}
		if err != nil {
			return err
		}
		ops = append(ops, o...)
	}
	for _, op := range ops {
		if op.Type == storage.Delete {
			delete(c.m.data, op.Key)
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error { return nil }

// extHost is a collector host with extensions.
type extHost map[component.ID]component.Component

func (h extHost) GetExtensions() map[component.ID]component.Component { return h }

var storageID = component.MustNewIDWithName("file_storage", "dedupe")

// collectorWith starts a receiver using st as its storage, as a collector process would.
// It is not shut down before the next one starts: that is the SIGKILL.
func collectorWith(t *testing.T, st *memStorage, tel *componenttest.Telemetry) *harness {
	return newHarness(t, func(c *Config) { id := storageID; c.StorageID = &id }, func(c *harnessConsumers) {
		c.host = extHost{storageID: st}
		c.telemetry = tel
		c.id = component.NewID(metadata.Type)
	})
}

func duplicateBatches(t *testing.T, tel *componenttest.Telemetry) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_lambdatelemetryreceiver_duplicate_batches")
	if err != nil {
		return 0 // never incremented
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || len(sum.DataPoints) != 1 {
		t.Fatalf("duplicate_batches = %+v", m.Data)
	}
	return sum.DataPoints[0].Value
}

func countedInvocations(t *testing.T, h *harness) int64 {
	t.Helper()
	all := h.metrics.AllMetrics()
	if len(all) == 0 {
		return 0
	}
	return invocations(t, all[len(all)-1])
}

// TestDedupeSurvivesRestart: a batch applied and exported by one collector process, whose answer
// the agent never got because that process was SIGKILLed, is retried to its successor: with
// storage: the successor answers 200 and counts it a duplicate instead of counting the
// invocation again; without, it is counted again (today's behaviour, unchanged).
func TestDedupeSurvivesRestart(t *testing.T) {
	batch := agentBody(t, 7, rawEvents(t, oneInvocation))
	newer := agentBody(t, 8, rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r2"`)))
	restartedAgent := agentBody(t, 7, rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r3"`)))

	t.Run("with storage", func(t *testing.T) {
		st := newMemStorage()
		first := collectorWith(t, st, nil)
		first.mustPost(t, AgentBatchPath, batch, true)
		if got := countedInvocations(t, first); got != 1 {
			t.Fatalf("first collector counted %d invocations, want 1", got)
		}
		if keys := st.keys(); len(keys) != 1 || !strings.HasPrefix(keys[0], seqKeyPrefix) {
			t.Fatalf("stored keys %q, want one seq window", keys)
		}

		tel := componenttest.NewTelemetry()
		t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
		second := collectorWith(t, st, tel)
		code, msg := second.post(t, AgentBatchPath, batch)
		if code != http.StatusOK || !strings.Contains(msg, `"accepted":3`) {
			t.Fatalf("retry to the successor: %d %s, want 200 accepting the 3 events (so the agent drops them)", code, msg)
		}
		if got := countedInvocations(t, second); got != 0 {
			t.Fatalf("the successor counted the retried invocation (%d): double-counted", got)
		}
		if n := second.logs.LogRecordCount(); n != 0 {
			t.Fatalf("the successor exported %d log records of the retried batch, want none", n)
		}
		if got := duplicateBatches(t, tel); got != 1 {
			t.Fatalf("duplicate_batches = %d, want 1", got)
		}
		// The successor goes on recording and applying: a new batch counts; a restarted agent
		// reusing seq 7 with another body is not mistaken for the retry.
		// The environment's series goes on from the recorded checkpoint: r1, then r2 and r3.
		second.mustPost(t, AgentBatchPath, newer, true)
		second.mustPost(t, AgentBatchPath, restartedAgent, true)
		if got := countedInvocations(t, second); got != 3 {
			t.Fatalf("the successor's series is at %d invocations, want 3 (r1 recorded by the first, r2 and r3)", got)
		}

		// And a third process knows what the second applied.
		tel3 := componenttest.NewTelemetry()
		t.Cleanup(func() { _ = tel3.Shutdown(context.Background()) })
		third := collectorWith(t, st, tel3)
		for _, b := range [][]byte{batch, newer, restartedAgent} {
			third.mustPost(t, AgentBatchPath, b, true)
		}
		if got := countedInvocations(t, third); got != 0 {
			t.Fatalf("the third collector counted %d retried invocations, want 0", got)
		}
		if got := duplicateBatches(t, tel3); got != 3 {
			t.Fatalf("duplicate_batches = %d, want 3", got)
		}
	})

	t.Run("without storage", func(t *testing.T) {
		first := newHarness(t, nil)
		first.mustPost(t, AgentBatchPath, batch, true)
		second := newHarness(t, nil)
		second.mustPost(t, AgentBatchPath, batch, true)
		if got := countedInvocations(t, second); got != 1 {
			t.Fatalf("without storage the successor counted %d, want 1 (the window is in memory only)", got)
		}
	})
}

// TestUnrecordedBatchCountsOnce: the window the record cannot close. The killed collector
// applied and exported a batch but died before the storage write, so its successor does not know
// the batch and applies it again. It applies it onto the metric state recorded with the batch
// before (mapping.Checkpoint), in the same series: the point it emits is the one the killed
// process emitted, and a backend taking each series' last value counts the invocation once.
func TestUnrecordedBatchCountsOnce(t *testing.T) {
	st := newMemStorage()
	killed := collectorWith(t, st, nil)
	killed.mustPost(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, oneInvocation)), true)
	st.failSet = errors.New("SIGKILL before the write")
	unrecorded := agentBody(t, 2, rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r2"`)))
	killed.mustPost(t, AgentBatchPath, unrecorded, true)
	st.failSet = nil

	successor := collectorWith(t, st, nil)
	successor.mustPost(t, AgentBatchPath, unrecorded, true)
	series := map[pcommon.Timestamp]int64{}
	for _, h := range []*harness{killed, successor} {
		for _, md := range h.metrics.AllMetrics() {
			for start, v := range invocationSeries(md) {
				series[start] = max(series[start], v)
			}
		}
	}
	var total int64
	for _, v := range series {
		total += v
	}
	if len(series) != 1 || total != 2 {
		t.Fatalf("faas.invocations series (start → last value) %v: %d invocations counted, want 2 in one series", series, total)
	}
}

// TestSuccessorContinuesAfterAShutdownFlush: a collector stopped for a deploy emits the
// invocations it still holds, incomplete, and counts them. Its successor must continue from that
// count, not from the last batch's checkpoint: a series going below what was exported reads as a
// counter reset to Prometheus.
func TestSuccessorContinuesAfterAShutdownFlush(t *testing.T) {
	st := newMemStorage()
	first := collectorWith(t, st, nil)
	// Its report never came: held until the correlation timeout or, here, the shutdown.
	held := `[
 {"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"held"}},
 {"time":"2026-03-01T10:00:00.010Z","type":"platform.runtimeDone","record":{"requestId":"held","status":"success","metrics":{"durationMs":10}}}]`
	first.mustPost(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, oneInvocation)), true)
	first.mustPost(t, AgentBatchPath, agentBody(t, 2, rawEvents(t, held)), true)
	if err := first.r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := countedInvocations(t, first); got != 2 {
		t.Fatalf("the stopped collector counted %d invocations, want 2 (r1 and the held one, incomplete)", got)
	}
	successor := collectorWith(t, st, nil)
	successor.mustPost(t, AgentBatchPath, agentBody(t, 3, rawEvents(t, strings.ReplaceAll(oneInvocation, `"r1"`, `"r3"`))), true)
	if got := countedInvocations(t, successor); got != 3 {
		t.Fatalf("the successor's series is at %d, want 3 (going on from the 2 its predecessor emitted)", got)
	}
}

// invocationSeries sums md's faas.invocations points (every outcome) by series start.
func invocationSeries(md pmetric.Metrics) map[pcommon.Timestamp]int64 {
	out := map[pcommon.Timestamp]int64{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if ms.At(j).Name() == contract.MetricInvocations {
				dps := ms.At(j).Sum().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					out[dps.At(k).StartTimestamp()] += dps.At(k).IntValue()
				}
			}
		}
	}
	return out
}

// TestDedupeRecordsOnlyAccepted: a batch the pipeline refused (503, the agent retries) is not
// recorded, so its retry to a restarted collector is applied, not taken for a duplicate.
func TestDedupeRecordsOnlyAccepted(t *testing.T) {
	st := newMemStorage()
	sw := &switchable{}
	sw.set(errors.New("queue full"))
	first := newHarness(t, func(c *Config) { id := storageID; c.StorageID = &id }, func(c *harnessConsumers) {
		c.host = extHost{storageID: st}
		c.traces = sw
	})
	batch := agentBody(t, 1, rawEvents(t, oneInvocation))
	if code, _ := first.post(t, AgentBatchPath, batch); code != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", code)
	}
	if keys := st.keys(); len(keys) != 0 {
		t.Fatalf("stored %q for a batch the pipeline refused", keys)
	}
	second := collectorWith(t, st, nil)
	second.mustPost(t, AgentBatchPath, batch, true)
	if got := countedInvocations(t, second); got != 1 {
		t.Fatalf("the retry of a refused batch counted %d invocations, want 1", got)
	}
	if got := second.traces.SpanCount(); got == 0 {
		t.Fatal("the retry of a refused batch exported no spans")
	}
}

// TestDedupeStorageErrors: a misconfigured storage: stops the receiver at Start, naming it; a
// failing write does not fail the request (the data were delivered).
func TestDedupeStorageErrors(t *testing.T) {
	start := func(host component.Host) error {
		f := NewFactory()
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.NetAddr.Endpoint = "127.0.0.1:0"
		id := storageID
		cfg.StorageID = &id
		r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		err = r.Start(context.Background(), host)
		_ = r.Shutdown(context.Background())
		return err
	}
	noWalk := newMemStorage()
	noWalk.noWalk = true
	for name, tc := range map[string]struct {
		host component.Host
		want string
	}{
		"missing": {extHost{}, `storage: extension "file_storage/dedupe" not found`},
		"not a storage": {extHost{storageID: struct {
			component.StartFunc
			component.ShutdownFunc
		}{}}, `is not a storage extension`},
		"cannot walk": {extHost{storageID: noWalk}, `cannot list its keys`},
	} {
		t.Run(name, func(t *testing.T) {
			err := start(tc.host)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start: %v, want an error containing %q", err, tc.want)
			}
		})
	}

	st := newMemStorage()
	h := collectorWith(t, st, nil)
	st.failSet = errors.New("disk full")
	h.mustPost(t, AgentBatchPath, agentBody(t, 1, rawEvents(t, oneInvocation)), true)
	if got := countedInvocations(t, h); got != 1 {
		t.Fatalf("counted %d, want 1", got)
	}
}

// TestSeqStoreBounds: the store keeps what the in-memory window keeps and forgets environments
// as the mapper does.
func TestSeqStoreBounds(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	open := func(st *memStorage, idle time.Duration, maxEnvs int, now time.Time) *seqStore {
		t.Helper()
		s := &seqStore{client: &memClient{st}, idle: idle, maxEnvs: maxEnvs, envs: map[string]*storedWindow{}}
		skipped, err := s.load(ctx, now)
		if err != nil || len(skipped) != 0 {
			t.Fatalf("load: %v %v", skipped, err)
		}
		return s
	}

	t.Run("newest seqs only", func(t *testing.T) {
		st := newMemStorage()
		s := open(st, 0, 10, t0)
		for seq := range int64(mapping.SeqWindow + 1) {
			if err := s.record(ctx, "env", seq, uint64(seq)*3, mapping.Checkpoint{}, t0); err != nil {
				t.Fatal(err)
			}
		}
		s = open(st, 0, 10, t0)
		if s.applied("env", 0, 0) {
			t.Error("seq 0 is still remembered past the window")
		}
		for _, seq := range []int64{1, mapping.SeqWindow} {
			if !s.applied("env", seq, uint64(seq)*3) {
				t.Errorf("seq %d forgotten", seq)
			}
		}
		if s.applied("env", 1, 4) {
			t.Error("seq 1 with another digest taken for applied")
		}
		if n, want := len(st.data[seqKeyPrefix+"env"]), windowHeaderSize+1+mapping.SeqWindow*windowEntrySize; n != want {
			t.Errorf("stored %d bytes, want %d (header, count, entries; no checkpoint)", n, want)
		}
	})

	t.Run("idle environments expire", func(t *testing.T) {
		st := newMemStorage()
		s := open(st, time.Hour, 10, t0)
		_ = s.record(ctx, "old", 1, 1, mapping.Checkpoint{}, t0)
		_ = s.record(ctx, "new", 1, 1, mapping.Checkpoint{}, t0.Add(50*time.Minute))
		if err := s.sweep(ctx, t0.Add(61*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if s.applied("old", 1, 1) || !s.applied("new", 1, 1) {
			t.Fatal("sweep: want old forgotten, new kept")
		}
		if keys := st.keys(); !slices.Equal(keys, []string{seqKeyPrefix + "new"}) {
			t.Fatalf("stored %q after the sweep", keys)
		}
		// Expired while no collector ran: dropped at load.
		s = open(st, time.Hour, 10, t0.Add(111*time.Minute))
		if s.applied("new", 1, 1) || len(st.keys()) != 0 {
			t.Fatalf("an environment idle past the timeout was loaded (keys %q)", st.keys())
		}
	})

	t.Run("max environments", func(t *testing.T) {
		st := newMemStorage()
		s := open(st, 0, 2, t0)
		for i, env := range []string{"a", "b", "c"} {
			_ = s.record(ctx, env, 1, 1, mapping.Checkpoint{}, t0.Add(time.Duration(i)*time.Minute))
		}
		if s.applied("a", 1, 1) || !s.applied("c", 1, 1) {
			t.Fatal("want the least recently seen forgotten")
		}
		if keys := st.keys(); !slices.Equal(keys, []string{seqKeyPrefix + "b", seqKeyPrefix + "c"}) {
			t.Fatalf("stored %q", keys)
		}
		// A smaller bound after a restart keeps the most recent.
		s = open(st, 0, 1, t0.Add(time.Hour))
		if s.applied("b", 1, 1) || !s.applied("c", 1, 1) || len(st.keys()) != 1 {
			t.Fatalf("after load with max 1: keys %q", st.keys())
		}
	})

	t.Run("unreadable windows are dropped", func(t *testing.T) {
		st := newMemStorage()
		st.data[seqKeyPrefix+"bad"] = []byte{9, 1, 2}
		st.data["other"] = []byte("not ours")
		s := &seqStore{client: &memClient{st}, maxEnvs: 10, envs: map[string]*storedWindow{}}
		skipped, err := s.load(ctx, t0)
		if err != nil || len(skipped) != 1 || !strings.Contains(skipped[0].Error(), `"seq/bad"`) {
			t.Fatalf("load: %v %v, want one skipped naming the key", skipped, err)
		}
		if keys := st.keys(); !slices.Equal(keys, []string{"other"}) {
			t.Fatalf("stored %q, want the bad window deleted and the foreign key kept", keys)
		}
	})
}

// FuzzDecodeWindow: what the storage file holds is read back at Start; whatever it holds must
// not panic, and what decodes encodes to the same bytes.
func FuzzDecodeWindow(f *testing.F) {
	f.Add(encodeWindow(&storedWindow{lastSeen: time.Unix(1, 2), seqs: []storedSeq{{1, 2}, {-3, 4}}}))
	f.Add([]byte{windowVersion})
	f.Add([]byte{windowFormatV1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(append(encodeWindow(&storedWindow{seqs: []storedSeq{{1, 2}}}), checkpointSeed(f)...))
	f.Add(make([]byte, windowHeaderSize+windowEntrySize*(mapping.SeqWindow+1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWindow(b)
		if err != nil {
			return
		}
		if b[0] == windowFormatV1 {
			return // written again as the current format
		}
		if got := encodeWindow(w); !bytes.Equal(got, b) {
			t.Fatalf("decode→encode changed %x into %x", b, got)
		}
	})
}

// TestDedupeWithFileStorage: the same with contrib's file_storage, the extension the
// distribution ships: what one process recorded in its bbolt file, the next one reads.
func TestDedupeWithFileStorage(t *testing.T) {
	dir := t.TempDir()
	f := filestorage.NewFactory()
	startExt := func() extension.Extension {
		t.Helper()
		cfg := f.CreateDefaultConfig().(*filestorage.Config)
		cfg.Directory = dir
		cfg.Compaction.Directory = dir
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			t.Fatal(err)
		}
		return ext
	}
	withExt := func(ext extension.Extension, tel *componenttest.Telemetry) *harness {
		return newHarness(t, func(c *Config) { id := storageID; c.StorageID = &id }, func(c *harnessConsumers) {
			c.host = extHost{storageID: ext}
			c.telemetry = tel
			c.id = component.NewID(metadata.Type) // the storage file is named after it, as in a collector
		})
	}
	batch := agentBody(t, 3, rawEvents(t, oneInvocation))

	ext := startExt()
	first := withExt(ext, nil)
	first.mustPost(t, AgentBatchPath, batch, true)
	// The process ends: its file is closed (a SIGKILL closes it as well; the write was done).
	if err := first.r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ext.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	ext = startExt()
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	second := withExt(ext, tel)
	second.mustPost(t, AgentBatchPath, batch, true)
	if got := countedInvocations(t, second); got != 0 {
		t.Fatalf("the successor counted the retried invocation (%d)", got)
	}
	if got := duplicateBatches(t, tel); got != 1 {
		t.Fatalf("duplicate_batches = %d, want 1", got)
	}
	if err := second.r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkpointSeed is a real environment checkpoint: one invocation applied as agent batch 1.
func checkpointSeed(tb testing.TB) []byte {
	var d telemetryevent.Decoder
	b, err := d.DecodeEvents([]byte(oneInvocation))
	if err != nil {
		tb.Fatal(err)
	}
	b.Agent = &telemetryevent.Agent{Seq: 1, HasSeq: true}
	res := pcommon.NewMap()
	res.PutStr("faas.name", "fn")
	res.PutStr("faas.instance", "i")
	m := mapping.New(mapping.Settings{CorrelationTimeout: time.Minute, MaxPending: 10, Checkpoints: true})
	return m.Apply(res, b, 1, time.Unix(1, 0)).Checkpoint.Data
}
