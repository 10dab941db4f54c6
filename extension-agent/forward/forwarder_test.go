package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/extension-agent/internal/collectortest"
	"github.com/azlens/azlens/extension-agent/listener"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testResource = []byte(`{"cloud.availability_zone":"use1-az1","faas.instance":"env-1","faas.name":"fn"}`)

// post makes the events of one listener POST: function log lines "<tag>-<i>" padded to size bytes.
func post(tag string, n, size int) ([][]byte, int) {
	var events [][]byte
	total := 0
	for i := range n {
		line := fmt.Sprintf("%s-%d", tag, i)
		if pad := size - len(line); pad > 0 {
			line += strings.Repeat("x", pad)
		}
		e := []byte(`{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"` + line + `"}`)
		events = append(events, e)
		total += len(e)
	}
	return events, total
}

func records(evs []collectortest.Event) []string {
	var out []string
	for _, e := range evs {
		s := strings.Trim(string(e.Record), `"`)
		if i := strings.IndexByte(s, 'x'); i >= 0 {
			s = s[:i]
		}
		out = append(out, s)
	}
	return out
}

func want(tag string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%d", tag, i))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newForwarder(t *testing.T, sink *collectortest.Sink, mod func(*Options)) *Forwarder {
	t.Helper()
	opt := Options{
		Endpoint:       sink.URL(),
		Gzip:           true,
		Timeout:        2 * time.Second,
		Version:        "test",
		MemoryLimit:    1 << 20,
		BatchMaxEvents: 1000,
		BatchMaxBytes:  1 << 20,
		BatchMaxAge:    time.Hour,
		RetryInitial:   time.Millisecond,
		RetryMax:       5 * time.Millisecond,
	}
	if mod != nil {
		mod(&opt)
	}
	f := New(opt, testResource)
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFlushSendsBatchesInOrderWithResourceAndCounters(t *testing.T) {
	sink := collectortest.New(t)
	sink.Token = "s3cret"
	f := newForwarder(t, sink, func(o *Options) { o.BatchMaxEvents = 10; o.Token = "s3cret" })
	evs, size := post("a", 25, 10)
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	bs := sink.Batches()
	if len(bs) != 3 || len(bs[0].Events) != 10 || len(bs[2].Events) != 5 {
		t.Fatalf("got %d batches, want 10+10+5 events", len(bs))
	}
	if got := records(sink.Events()); !equal(got, want("a", 25)) {
		t.Fatalf("events out of order or lost: %v", got)
	}
	for i, b := range bs {
		if !b.Gzip || b.Resource["faas.instance"] != "env-1" || b.Agent.Name != "azlens-agent" || b.Agent.Version != "test" {
			t.Fatalf("batch %d: gzip=%v resource=%v agent=%+v", i, b.Gzip, b.Resource, b.Agent)
		}
		if b.Agent.Seq != uint64(i+1) {
			t.Fatalf("batch %d has seq %d, want %d", i, b.Agent.Seq, i+1)
		}
		if b.Agent.EventsReceived != 25 || b.Agent.EventsForwarded != uint64(10*i) {
			t.Fatalf("batch %d counters %+v", i, b.Agent)
		}
	}
	s := f.Stats()
	if s.EventsForwarded != 25 || s.BatchesSent != 3 || s.FlushCount != 1 || f.Buffered() != 0 {
		t.Fatalf("stats %+v buffered %d", s, f.Buffered())
	}
}

func TestBatchLeavesByAgeAndBySize(t *testing.T) {
	sink := collectortest.New(t)
	f := newForwarder(t, sink, func(o *Options) { o.BatchMaxAge = 20 * time.Millisecond; o.BatchMaxBytes = 4096; o.Gzip = false })
	evs, size := post("age", 3, 10)
	f.Add(evs, size) // no flush: the age alone must send it
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return collectortest.CountEvents(b) == 3 }); err != nil {
		t.Fatal(err)
	}
	if sink.Batches()[0].Gzip {
		t.Fatal("body gzipped although compression is off")
	}
	evs, size = post("big", 8, 1000) // 8 KB: two 4 KB batches by size
	f.Add(evs, size)
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return collectortest.CountEvents(b) == 11 }); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.Batches()); n < 3 {
		t.Fatalf("got %d batches, want the 8 KB split by BatchMaxBytes", n)
	}
}

func TestPermanentRejectionDropsAndCounts(t *testing.T) {
	for _, status := range []int{400, 401, 404} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			sink := collectortest.New(t)
			sink.Respond(func(n int) collectortest.Response {
				if n == 0 {
					return collectortest.Response{Status: status}
				}
				return collectortest.Response{}
			})
			f := newForwarder(t, sink, nil)
			evs, size := post("bad", 4, 10)
			f.Add(evs, size)
			if err := f.Flush(waitCtx(t)); err != nil {
				t.Fatalf("flush after a permanent rejection: %v", err)
			}
			evs, size = post("good", 2, 10)
			f.Add(evs, size)
			if err := f.Flush(waitCtx(t)); err != nil {
				t.Fatal(err)
			}
			bs := sink.Batches()
			if len(bs) != 1 || !equal(records(bs[0].Events), want("good", 2)) {
				t.Fatalf("got %d batches", len(bs))
			}
			if a := bs[0].Agent; a.EventsDropped != 4 || a.BatchesFailed != 1 || a.EventsReceived != 6 {
				t.Fatalf("the drop is not reported in the agent object: %+v", a)
			}
		})
	}
}

func TestRetryableAnswersAreRetriedUntilAccepted(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(n int) collectortest.Response {
		switch n {
		case 0:
			return collectortest.Response{Status: 429}
		case 1:
			return collectortest.Response{Status: 503}
		case 2:
			return collectortest.Response{Status: 500}
		}
		return collectortest.Response{}
	})
	f := newForwarder(t, sink, nil)
	evs, size := post("r", 5, 10)
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); !errors.Is(err, ErrCollectorDown) {
		t.Fatalf("flush against a failing collector: %v, want ErrCollectorDown", err)
	}
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return len(b) == 1 }); err != nil {
		t.Fatal(err)
	}
	b := sink.Batches()[0]
	if !equal(records(b.Events), want("r", 5)) || b.Agent.Seq != 1 || b.Agent.BatchesFailed != 0 {
		t.Fatalf("retried batch: seq %d agent %+v", b.Agent.Seq, b.Agent)
	}
	// The receiver recognises a retry by its seq and identical body: every attempt is the same.
	bodies := sink.Bodies()
	if len(bodies) != 4 {
		t.Fatalf("%d attempts, want 4", len(bodies))
	}
	for i, body := range bodies[1:] {
		if !bytes.Equal(body, bodies[0]) {
			t.Fatalf("attempt %d sent a different body", i+2)
		}
	}
	if err := waitFor(waitCtx(t), f, func() bool { return !f.Failing() }); err != nil {
		t.Fatal("still failing after a success")
	}
}

func TestFlushReturnsAtOnceWhileCollectorIsDown(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	f := newForwarder(t, sink, func(o *Options) { o.RetryInitial, o.RetryMax = time.Hour, time.Hour })
	evs, size := post("d", 1, 10)
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); !errors.Is(err, ErrCollectorDown) {
		t.Fatalf("first flush: %v", err)
	}
	requests := sink.Requests()
	// In backoff now: a flush must not even try (it would slow every invocation).
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); !errors.Is(err, ErrCollectorDown) {
		t.Fatalf("flush in backoff: %v", err)
	}
	if sink.Requests() != requests {
		t.Fatal("flush in backoff sent a request")
	}
}

func TestSlowCollectorIsBoundedByFlushContext(t *testing.T) {
	sink := collectortest.New(t)
	sink.Hold()
	f := newForwarder(t, sink, nil)
	evs, size := post("slow", 3, 10)
	f.Add(evs, size)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := f.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush against a held collector: %v", err)
	}
	sink.Release()
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return collectortest.CountEvents(b) == 3 }); err != nil {
		t.Fatal(err)
	}
}

func TestTooLargeIsSplit(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(n int) collectortest.Response {
		if n == 0 {
			return collectortest.Response{Status: 413}
		}
		return collectortest.Response{}
	})
	f := newForwarder(t, sink, nil)
	evs, size := post("big", 6, 10)
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := records(sink.Events()); !equal(got, want("big", 6)) || len(sink.Batches()) != 2 {
		t.Fatalf("after 413: %d batches, events %v", len(sink.Batches()), got)
	}
	if s := f.Stats(); s.EventsDropped != 0 || s.EventsForwarded != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestOutageSpoolsThenReplaysEverything(t *testing.T) {
	sink := collectortest.New(t)
	var mu sync.Mutex
	down := true
	sink.Respond(func(int) collectortest.Response {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return collectortest.Response{Status: 503}
		}
		return collectortest.Response{}
	})
	spool, err := OpenSpool(t.TempDir(), 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	f := newForwarder(t, sink, func(o *Options) {
		o.MemoryLimit = 8 << 10
		o.BatchMaxEvents = 20
		o.Spool = spool
	})
	const posts, per = 50, 20
	for i := range posts {
		evs, size := post(fmt.Sprintf("p%d", i), per, 100)
		f.Add(evs, size)
	}
	if f.Buffered() > 8<<10 {
		t.Fatalf("memory %d above its limit", f.Buffered())
	}
	s := f.Stats()
	if s.EventsSpooled == 0 || spool.Len() == 0 {
		t.Fatalf("nothing spooled: %+v", s)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool {
		return collectortest.CountEvents(b) == posts*per
	}); err != nil {
		t.Fatalf("%v; stats %+v", err, f.Stats())
	}
	seen := map[string]int{}
	for _, r := range records(sink.Events()) {
		seen[r]++
	}
	for i := range posts {
		for _, w := range want(fmt.Sprintf("p%d", i), per) {
			if seen[w] != 1 {
				t.Fatalf("event %s delivered %d times", w, seen[w])
			}
		}
	}
	// Counters move just after the sink answered.
	if err := waitFor(waitCtx(t), f, func() bool {
		s := f.Stats()
		return s.EventsDropped == 0 && s.EventsReplayed == s.EventsSpooled && s.EventsForwarded+s.EventsReplayed == posts*per
	}); err != nil {
		t.Fatalf("stats %+v", f.Stats())
	}
	if spool.Len() != 0 {
		t.Fatalf("%d batches left in the spool", spool.Len())
	}
}

func TestFullSpoolDropsOldestAndCounts(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	spool, err := OpenSpool(t.TempDir(), 3000)
	if err != nil {
		t.Fatal(err)
	}
	f := newForwarder(t, sink, func(o *Options) {
		o.MemoryLimit = 2000
		o.BatchMaxEvents = 5
		o.Gzip = false
		o.Spool = spool
		o.RetryInitial, o.RetryMax = time.Hour, time.Hour
	})
	for i := range 40 {
		evs, size := post(fmt.Sprintf("p%d", i), 5, 100)
		f.Add(evs, size)
	}
	s := f.Stats()
	if s.EventsDropped == 0 {
		t.Fatalf("no drop counted: %+v", s)
	}
	if spool.Bytes() > 3000 {
		t.Fatalf("spool %d bytes above its limit", spool.Bytes())
	}
	// Accounting: every received event is in memory, in the spool, or counted as dropped.
	f.mu.Lock()
	inMemory := uint64(len(f.open))
	for _, b := range f.queue {
		inMemory += uint64(len(b.events))
	}
	if f.inflight != nil {
		inMemory += uint64(len(f.inflight.events))
	}
	f.mu.Unlock()
	spool.mu.Lock()
	spooledNow := uint64(0)
	for _, sf := range spool.files {
		spooledNow += uint64(sf.events)
	}
	spool.mu.Unlock()
	if s.EventsReceived != inMemory+spooledNow+s.EventsDropped {
		t.Fatalf("events unaccounted: %+v, in memory %d, spooled now %d", s, inMemory, spooledNow)
	}
}

func TestShutdownSpoolsAndNextEnvironmentReplaysWithOriginalResource(t *testing.T) {
	dir := t.TempDir()
	down := collectortest.New(t)
	down.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	spool, err := OpenSpool(dir, 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	old := New(Options{Endpoint: down.URL(), Gzip: true, Version: "test", Spool: spool,
		RetryInitial: time.Millisecond, RetryMax: time.Millisecond}, testResource)
	old.Start()
	evs, size := post("old", 7, 10)
	old.Add(evs, size)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := old.Shutdown(ctx); err != nil && !errors.Is(err, ErrCollectorDown) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if s := old.Stats(); s.EventsSpooled != 7 || s.EventsDropped != 0 {
		t.Fatalf("old agent stats %+v", s)
	}

	up := collectortest.New(t)
	spool2, err := OpenSpool(dir, 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	if spool2.Len() != 1 {
		t.Fatalf("new agent found %d spooled batches, want 1", spool2.Len())
	}
	f := New(Options{Endpoint: up.URL(), Version: "test", Spool: spool2}, []byte(`{"faas.instance":"env-2"}`))
	f.Start()
	defer f.Close()
	if err := up.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return len(b) == 1 }); err != nil {
		t.Fatal(err)
	}
	b := up.Batches()[0]
	if b.Resource["faas.instance"] != "env-1" || !equal(records(b.Events), want("old", 7)) {
		t.Fatalf("replayed batch resource %v events %v", b.Resource, records(b.Events))
	}
	if err := waitFor(waitCtx(t), f, func() bool { return f.Stats().EventsReplayed == 7 && spool2.Len() == 0 }); err != nil {
		t.Fatalf("%v: %+v", err, f.Stats())
	}
}

func TestShutdownWithoutSpoolCountsDrops(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	f := newForwarder(t, sink, nil)
	evs, size := post("x", 3, 10)
	f.Add(evs, size)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = f.Shutdown(ctx)
	if s := f.Stats(); s.EventsDropped != 3 {
		t.Fatalf("stats %+v", s)
	}
	if f.FinalReported() {
		t.Fatal("final counters reported by a collector answering 503")
	}
	if err := f.Shutdown(ctx); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
}

// waitFor waits until cond holds, re-checking at every state change of f (the sender broadcasts
// after updating its counters).
func waitFor(ctx context.Context, f *Forwarder, cond func() bool) error {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handlerTransport serves requests with an in-process handler, so the sender's timing can run
// under synctest's fake clock (real sockets would not let the bubble's clock advance).
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func TestBackoffGrowsWithJitterAndIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			n := len(times)
			mu.Unlock()
			if n <= 8 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		f := New(Options{Endpoint: "http://collector.test", Version: "test", Transport: handlerTransport{h},
			RetryInitial: 100 * time.Millisecond, RetryMax: 800 * time.Millisecond}, testResource)
		f.Start()
		defer f.Close()
		evs, size := post("b", 1, 10)
		f.Add(evs, size)
		_ = f.Flush(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := waitFor(ctx, f, func() bool { return f.Stats().EventsForwarded == 1 }); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(times) != 9 {
			t.Fatalf("%d attempts, want 9", len(times))
		}
		for i := 1; i < len(times); i++ {
			step := min(100*time.Millisecond<<(i-1), 800*time.Millisecond)
			gap := times[i].Sub(times[i-1])
			if gap < step/2 || gap > step {
				t.Fatalf("attempt %d came %v after the previous, want within [%v, %v]", i, gap, step/2, step)
			}
		}
	})
}

func TestRetryAfterIsHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			times = append(times, time.Now())
			n := len(times)
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		f := New(Options{Endpoint: "http://collector.test", Version: "test", Transport: handlerTransport{h},
			RetryInitial: 10 * time.Millisecond, RetryMax: 10 * time.Second}, testResource)
		f.Start()
		defer f.Close()
		evs, size := post("b", 1, 10)
		f.Add(evs, size)
		_ = f.Flush(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := waitFor(ctx, f, func() bool { return f.Stats().EventsForwarded == 1 }); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if gap := times[1].Sub(times[0]); gap < 3*time.Second {
			t.Fatalf("retried %v after a Retry-After of 3s", gap)
		}
	})
}

func TestSpoolIgnoresForeignFilesAndRemovesPartialWrites(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"0000000000000001-00000001-3.json":     `{}`,
		"0000000000000002-00000001-2.json.tmp": `{`,
		"notes.txt":                            `hello`,
		"zz-1-2.json":                          `{}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1 || s.files[0].events != 3 {
		t.Fatalf("spool indexed %+v", s.files)
	}
	if _, err := os.Stat(filepath.Join(dir, "0000000000000002-00000001-2.json.tmp")); !os.IsNotExist(err) {
		t.Fatal("partial write left in place")
	}
	if _, err := s.Put(make([]byte, 2<<20), 1, false); !errors.Is(err, errSpoolTooSmall) {
		t.Fatalf("oversized put: %v", err)
	}
}

func TestKickSendsInTheBackground(t *testing.T) {
	sink := collectortest.New(t)
	f := newForwarder(t, sink, nil) // BatchMaxAge of an hour: only the kick can send
	evs, size := post("k", 4, 10)
	f.Add(evs, size)
	f.Kick()
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool { return collectortest.CountEvents(b) == 4 }); err != nil {
		t.Fatal(err)
	}
}

func TestSharedSpoolDirectory(t *testing.T) {
	dir := t.TempDir()
	first, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// A second live agent on the same /tmp must not share the first one's files.
	second, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if second.dir == first.dir || filepath.Dir(second.dir) != dir {
		t.Fatalf("second spool in %s, first in %s", second.dir, first.dir)
	}
	if _, err := second.Put([]byte(`{"x":1}`), 5, false); err != nil {
		t.Fatal(err)
	}
	if first.Len() != 0 {
		t.Fatal("first spool sees the second's batch")
	}
	// Both agents die; the next one to take the directory adopts the orphan's batch.
	second.Close()
	first.Close()
	next, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if next.dir != dir || next.Len() != 1 || next.files[0].events != 5 {
		t.Fatalf("next spool in %s holds %+v", next.dir, next.files)
	}
	if subs, _ := filepath.Glob(filepath.Join(dir, "agent-*")); len(subs) != 0 {
		t.Fatalf("orphan directories left: %v", subs)
	}
}

// heapAfterGC is the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestOutageKeepsLiveHeapBounded(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(int) collectortest.Response { return collectortest.Response{Status: 503} })
	spool, err := OpenSpool(t.TempDir(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	f := newForwarder(t, sink, func(o *Options) {
		o.MemoryLimit = limit
		o.Spool = spool
		o.RetryInitial, o.RetryMax = time.Hour, time.Hour
	})
	base := heapAfterGC()
	feed := func(mb int) {
		for range mb * 10 { // 100 KB per POST
			evs, size := post("o", 100, 1000)
			buf := make([]byte, 0, size) // one body per POST, as the listener hands them over
			for i, e := range evs {
				buf = append(buf, e...)
				evs[i] = buf[len(buf)-len(e) : len(buf) : len(buf)]
			}
			f.Add(evs, size)
		}
	}
	feed(40) // well past warm-up: the buffer is full and the spool's files are open
	after40 := heapAfterGC()
	feed(32)
	after72 := heapAfterGC()
	if s := f.Stats(); s.EventsSpooled == 0 || s.EventsDropped != 0 {
		t.Fatalf("stats %+v", s)
	}
	// 72 MB through a 1 MB buffer: the live heap must not grow with the volume. Its ceiling is the
	// buffer plus one in-flight batch (BatchMaxBytes, 1 MiB here) and its encoded copy, plus room
	// for the spool's write buffers and the race detector's shadow: 6 × the limit above the base.
	if after72 > after40+limit || after72 > base+6*limit {
		t.Fatalf("live heap grew: base %d, after 40 MB %d, after 72 MB %d", base, after40, after72)
	}
}

// A shortened batch age sends the open batch without any flush or kick (BatchMaxAge is an hour);
// OTLP payloads travel in the same batches, in wire format v2's "otlp" array.
func TestSetMaxAgeSendsTheOpenBatchAndOTLPTravelsInV2(t *testing.T) {
	sink := collectortest.New(t)
	f := newForwarder(t, sink, nil)
	f.SetMaxAge(10 * time.Millisecond)
	evs, size := post("a", 2, 10)
	f.Add(evs, size)
	f.AddOTLP("traces", "protobuf", []byte{0x0a, 0x00})
	f.AddOTLP("logs", "json", []byte(`{"resourceLogs":[]}`))
	if err := sink.Wait(waitCtx(t), func(b []collectortest.Batch, _ int) bool {
		n := 0
		for _, x := range b {
			n += len(x.OTLP)
		}
		return collectortest.CountEvents(b) == 2 && n == 2
	}); err != nil {
		t.Fatal(err)
	}
	var got []collectortest.OTLP
	for _, b := range sink.Batches() {
		got = append(got, b.OTLP...)
	}
	if got[0].Signal != "traces" || got[0].Encoding != "protobuf" || string(got[0].Body) != `"CgA="` ||
		got[1].Signal != "logs" || got[1].Encoding != "json" || string(got[1].Body) != `{"resourceLogs":[]}` {
		t.Fatalf("otlp items: %+v", got)
	}
	if s := f.Stats(); s.OTLPReceived != 2 || s.EventsReceived != 4 {
		t.Fatalf("counters: %+v", s)
	}
}

// invocationPost is one listener POST of invocation id: start, n function lines, runtimeDone and
// report, with the transitions the listener reports for it.
func invocationPost(id string, n int) ([][]byte, int, []listener.Transition) {
	ev := func(typ, record string) []byte {
		return []byte(`{"time":"2026-01-01T00:00:00.000Z","type":"` + typ + `","record":` + record + `}`)
	}
	rec := `{"requestId":"` + id + `"}`
	events := [][]byte{ev("platform.start", rec)}
	for i := range n {
		events = append(events, ev("function", fmt.Sprintf(`"%s line %d"`, id, i)))
	}
	events = append(events, ev("platform.runtimeDone", rec), ev("platform.report", rec))
	size := 0
	for _, e := range events {
		size += len(e)
	}
	return events, size, []listener.Transition{{Index: 0, RequestID: id}, {Index: len(events) - 1, RequestID: id, End: true}}
}

func activeOf(b collectortest.Batch) string {
	if b.Agent.Active == nil {
		return "<none>"
	}
	return *b.Agent.Active
}

// Every batch says which invocation was active at its first event, so the receiver attributes
// function lines without a requestId right whatever order it processes batches in.
func TestBatchesCarryTheActiveInvocation(t *testing.T) {
	sink := collectortest.New(t)
	f := newForwarder(t, sink, func(o *Options) { o.BatchMaxEvents = 3 })
	evs, size, tr := invocationPost("A", 4) // start, 4 lines, runtimeDone, report: 7 events
	f.AddTracked(evs, size, tr)
	lines, lsize := post("init", 1, 10) // a line after A's report: nobody's
	f.AddTracked(lines, lsize, nil)
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range sink.Batches() {
		got = append(got, activeOf(b))
	}
	// [start A, l0, l1] [l2, l3, runtimeDone] [report A, init-0]
	if want := []string{"", "A", "A"}; !equal(got, want) {
		t.Fatalf("active per batch %q, want %q", got, want)
	}

	// A forwarder never told about transitions (Add only) sends no agent.active: the receiver
	// keeps its own notion, as for an older agent.
	plain := collectortest.New(t)
	g := newForwarder(t, plain, nil)
	g.Add(evs, size)
	if err := g.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	if a := activeOf(plain.Batches()[0]); a != "<none>" {
		t.Fatalf("untracked batch carries active %q", a)
	}
}

// A batch the receiver answers 413 is halved; the second half carries the active invocation as
// it was at its own first event.
func TestSplitHalvesKnowTheirActiveInvocation(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(n int) collectortest.Response {
		if n == 0 {
			return collectortest.Response{Status: http.StatusRequestEntityTooLarge}
		}
		return collectortest.Response{}
	})
	f := newForwarder(t, sink, nil)
	evs, size, tr := invocationPost("B", 2) // start, l0, l1 | runtimeDone, report
	f.AddTracked(evs[:3], 0, tr[:1])
	f.AddTracked(evs[3:], size, []listener.Transition{{Index: 1, RequestID: "B", End: true}})
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	bs := sink.Batches()
	if len(bs) != 2 || len(bs[0].Events) != 2 || len(bs[1].Events) != 3 {
		t.Fatalf("after 413: %d batches", len(bs))
	}
	if a0, a1 := activeOf(bs[0]), activeOf(bs[1]); a0 != "" || a1 != "B" {
		t.Fatalf("halves carry active %q and %q, want \"\" and \"B\"", a0, a1)
	}
}

// Drops at shutdown reach the collector: after the last flush the forwarder sends its final
// counters in a batch of no events, and they balance (received = forwarded + dropped).
func TestShutdownReportsFinalCounters(t *testing.T) {
	sink := collectortest.New(t)
	sink.Respond(func(n int) collectortest.Response {
		if n == 1 {
			// The second batch, a single event, is too large: dropped for good, during shutdown.
			return collectortest.Response{Status: http.StatusRequestEntityTooLarge}
		}
		return collectortest.Response{}
	})
	f := newForwarder(t, sink, nil)
	evs, size := post("a", 2, 10)
	f.Add(evs, size)
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	evs, size = post("b", 1, 10)
	f.Add(evs, size)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s := f.Stats()
	if s.EventsReceived != 3 || s.EventsForwarded != 2 || s.EventsDropped != 1 {
		t.Fatalf("stats %+v", s)
	}
	if !f.FinalReported() {
		t.Fatal("final counters not reported to an answering collector")
	}
	bs := sink.Batches()
	last := bs[len(bs)-1]
	if len(last.Events) != 0 || last.Agent.EventsDropped != 1 || last.Agent.EventsForwarded != 2 ||
		last.Agent.EventsReceived != 3 || last.Agent.BatchesSent != s.BatchesSent || last.Agent.BatchesFailed != s.BatchesFailed {
		t.Fatalf("last batch %d events, counters %+v; forwarder %+v", len(last.Events), last.Agent, s)
	}
	if last.Agent.Seq <= bs[len(bs)-2].Agent.Seq {
		t.Fatalf("final batch seq %d does not follow %d", last.Agent.Seq, bs[len(bs)-2].Agent.Seq)
	}
}

// HoldUntilSettled: nothing leaves before Settle, and what leaves then carries the resource set
// before it (the agent learns the environment's instance id from platform.initStart).
func TestHoldUntilSettledSendsUnderTheFinalResource(t *testing.T) {
	sink := collectortest.New(t)
	f := newForwarder(t, sink, func(o *Options) { o.HoldUntilSettled = true; o.BatchMaxAge = 0 })
	evs, size := post("early", 3, 10)
	f.Add(evs, size)
	f.AddOTLP("traces", "application/x-protobuf", []byte{})
	fctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := f.Flush(fctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || len(sink.Batches()) != 0 {
		t.Fatalf("before Settle: Flush = %v, %d batches sent; want it held", err, len(sink.Batches()))
	}
	f.SetResource([]byte(`{"faas.instance":"env-final","faas.name":"fn"}`))
	f.Settle()
	if err := f.Flush(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	bs := sink.Batches()
	if collectortest.CountEvents(bs) != 3 {
		t.Fatalf("%d events arrived, want 3", collectortest.CountEvents(bs))
	}
	for _, b := range bs {
		if got := b.Resource["faas.instance"]; got != "env-final" {
			t.Fatalf("a batch left with faas.instance %v, want the settled env-final", got)
		}
	}
}
