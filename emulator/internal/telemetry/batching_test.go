package telemetry

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// inBubble runs f in a synctest bubble with a hub whose only subscriber is a real http.Server
// reached over an in-memory network, so the fake clock advances only when delivery is idle.
// Inside a bubble the clock is fake: advance moves it forward instantly and waits for nothing.
func inBubble(t *testing.T, cfg Config, buffering string, f func(t *testing.T, h *Hub, c *consumer)) {
	synctest.Test(t, func(t *testing.T) {
		c := &consumer{t: t}
		client, stop := pipeConsumer(c)
		cfg.Client = client
		h := NewHub(cfg)
		if err := h.Subscribe("ext", subscribeBody(8080, `"function"`, buffering)); err != nil {
			t.Fatal(err)
		}
		h.CloseSubscriptions()
		f(t, h, c)
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		stop()
	})
}

func TestBatchByItems(t *testing.T) {
	inBubble(t, Config{}, `{"maxItems":1000,"timeoutMs":30000}`, func(t *testing.T, h *Hub, c *consumer) {
		start := time.Now()
		for range 999 {
			h.Emit(Event{Type: "function", Record: "x"})
		}
		synctest.Wait()
		if got := c.batchSizes(); len(got) != 0 {
			t.Fatalf("999 items sent before the timeout: %v", got)
		}
		h.Emit(Event{Type: "function", Record: "x"})
		synctest.Wait()
		if got := c.batchSizes(); !slices.Equal(got, []int{1000}) {
			t.Fatalf("batches %v, want one of 1000 as soon as maxItems is reached", got)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("batch waited %v", d)
		}
	})
}

func TestBatchByBytes(t *testing.T) {
	inBubble(t, Config{}, `{"maxItems":10000,"maxBytes":262144,"timeoutMs":30000}`, func(t *testing.T, h *Hub, c *consumer) {
		line := strings.Repeat("b", 1000)
		size := len(mustEncode(t, Event{Time: time.Now(), Type: "function", Record: line}))
		perBatch := 262144 / size
		for range perBatch {
			h.Emit(Event{Type: "function", Record: line})
		}
		synctest.Wait()
		if got := c.batchSizes(); len(got) != 0 {
			t.Fatalf("sent below maxBytes: %v", got)
		}
		h.Emit(Event{Type: "function", Record: line}) // crosses maxBytes
		synctest.Wait()
		if got := c.batchSizes(); !slices.Equal(got, []int{perBatch}) {
			t.Fatalf("batches %v, want one of %d records (≤ maxBytes)", got, perBatch)
		}
		// The record that did not fit waits for its own timeout.
		advance(30 * time.Second)
		synctest.Wait()
		if got := c.batchSizes(); !slices.Equal(got, []int{perBatch, 1}) {
			t.Fatalf("batches %v", got)
		}
	})
}

func TestBatchByTimeout(t *testing.T) {
	inBubble(t, Config{}, `{"timeoutMs":100}`, func(t *testing.T, h *Hub, c *consumer) {
		h.Emit(Event{Type: "function", Record: "first"})
		advance(60 * time.Millisecond)
		h.Emit(Event{Type: "function", Record: "second"})
		advance(39 * time.Millisecond)
		synctest.Wait()
		if got := c.batchSizes(); len(got) != 0 {
			t.Fatalf("sent after 99ms: %v", got)
		}
		advance(time.Millisecond) // 100ms after the first event
		synctest.Wait()
		if got := c.batchSizes(); !slices.Equal(got, []int{2}) {
			t.Fatalf("batches %v, want both events at timeoutMs after the first", got)
		}
	})
}

func TestDelayBatchHook(t *testing.T) {
	cfg := Config{DelayBatch: func() time.Duration { return 5 * time.Second }}
	inBubble(t, cfg, `{"timeoutMs":25}`, func(t *testing.T, h *Hub, c *consumer) {
		start := time.Now()
		h.Emit(Event{Type: "function", Record: "held"})
		if err := h.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 5*time.Second {
			t.Errorf("flush returned after %v, want the batch held 5s", d)
		}
		if got := types(c.events()); !slices.Equal(got, []string{"function"}) {
			t.Errorf("got %v", got)
		}
	})
}

func TestFlushRespectsContext(t *testing.T) {
	cfg := Config{DelayBatch: func() time.Duration { return time.Hour }}
	inBubble(t, cfg, "", func(t *testing.T, h *Hub, c *consumer) {
		h.Emit(Event{Type: "function", Record: "held"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := h.Flush(ctx); err == nil {
			t.Fatal("flush succeeded while the batch is held for an hour")
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("flush gave up after %v, want its 1s deadline", d)
		}
		if len(c.events()) != 0 {
			t.Errorf("held batch delivered")
		}
	})
}

func TestBackoffIsCappedExponential(t *testing.T) {
	h := NewHub(Config{})
	s := newSubscriber(h, "x", &subscription{})
	defer s.cancel()
	var got []time.Duration
	for a := range 10 {
		got = append(got, s.backoff(a))
	}
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
}

func mustEncode(t *testing.T, e Event) []byte {
	t.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advance moves the synctest bubble's fake clock forward by d; nothing real waits.
func advance(d time.Duration) { <-time.After(d) }
