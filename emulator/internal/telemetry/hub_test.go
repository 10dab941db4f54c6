package telemetry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type initStart struct {
	InitializationType string `json:"initializationType"`
	Phase              string `json:"phase"`
	FunctionName       string `json:"functionName"`
	FunctionVersion    string `json:"functionVersion"`
}

func TestReplayAndSubscriptionEvents(t *testing.T) {
	h := newTestHub(t, Config{})
	a, b := newConsumer(t, nil), newConsumer(t, nil)
	h.Emit(Event{Type: "platform.initStart", Record: initStart{"on-demand", "init", "fn", "$LATEST"}})
	h.Emit(Event{Type: "extension", Record: "starting"})
	if err := h.Subscribe("a", subscribeBody(a.port(), `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	if err := h.Subscribe("b", subscribeBody(b.port(), `"platform","extension"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "platform.initRuntimeDone", Record: map[string]any{"initializationType": "on-demand", "status": "success"}})
	flush(t, h)

	if got, want := types(a.events()), []string{"platform.initStart", "platform.telemetrySubscription", "platform.telemetrySubscription", "platform.initRuntimeDone"}; !slices.Equal(got, want) {
		t.Errorf("a got %v, want %v", got, want)
	}
	if got, want := types(b.events()), []string{"platform.initStart", "extension", "platform.telemetrySubscription", "platform.telemetrySubscription", "platform.initRuntimeDone"}; !slices.Equal(got, want) {
		t.Errorf("b got %v, want %v", got, want)
	}
	var sub subscriptionRecord
	if err := json.Unmarshal(b.events()[3].Record, &sub); err != nil {
		t.Fatal(err)
	}
	if sub.Name != "b" || sub.State != "Subscribed" || !slices.Equal(sub.Types, []string{"platform", "extension"}) {
		t.Errorf("telemetrySubscription record = %+v", sub)
	}
	var start initStart
	if err := json.Unmarshal(a.events()[0].Record, &start); err != nil || start.FunctionName != "fn" || start.Phase != "init" {
		t.Errorf("replayed initStart = %s (%v)", a.events()[0].Record, err)
	}
	a.mu.Lock()
	host := a.hosts[0]
	a.mu.Unlock()
	if host != fmt.Sprintf("sandbox.localdomain:%d", a.port()) {
		t.Errorf("Host header %q, want the subscribed host", host)
	}

	err := h.Subscribe("c", subscribeBody(a.port(), `"platform"`, ""))
	if apiErr, ok := errors.AsType[*APIError](err); !ok || apiErr.Status != 403 || apiErr.Type != "Telemetry.SubscriptionClosed" {
		t.Errorf("subscribe after init = %v, want 403 Telemetry.SubscriptionClosed", err)
	}
}

// One extension may subscribe several destinations, as the OpenTelemetry Lambda collector does
// (its lifecycle listener and its receiver): each gets everything of its types. Subscribing the
// same destination again updates that subscription and duplicates nothing.
func TestSubscriptionsPerDestination(t *testing.T) {
	h := newTestHub(t, Config{})
	first, second := newConsumer(t, nil), newConsumer(t, nil)
	if err := h.Subscribe("ext", subscribeBody(first.port(), `"function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.Emit(Event{Type: "function", Record: "before"})
	if err := h.Subscribe("ext", subscribeBody(second.port(), `"platform","function"`, "")); err != nil {
		t.Fatal(err)
	}
	// The same destination again, now also for platform events, with its own buffering.
	if err := h.Subscribe("ext", subscribeBody(first.port(), `"function","platform"`, `{"timeoutMs":25}`)); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "function", Record: "after"})
	h.Emit(Event{Type: "platform.runtimeDone", Record: map[string]string{"requestId": "r1"}})
	flush(t, h)
	records := func(c *consumer) (out []string) {
		for _, e := range c.events() {
			if e.Type != "function" {
				out = append(out, e.Type)
				continue
			}
			var s string
			_ = json.Unmarshal(e.Record, &s)
			out = append(out, s)
		}
		return out
	}
	// first: "before" from its original subscription, then the platform events it now asked for
	// (two telemetrySubscription replayed, the third emitted live), then everything after init,
	// each exactly once.
	got := records(first)
	slices.Sort(got)
	want := []string{"after", "before", "platform.runtimeDone", "platform.telemetrySubscription", "platform.telemetrySubscription", "platform.telemetrySubscription"}
	if !slices.Equal(got, want) {
		t.Errorf("first destination got %q, want %q", got, want)
	}
	got = records(second)
	slices.Sort(got)
	want = []string{"after", "before", "platform.runtimeDone", "platform.telemetrySubscription", "platform.telemetrySubscription", "platform.telemetrySubscription"}
	if !slices.Equal(got, want) {
		t.Errorf("second destination got %q, want %q", got, want)
	}
}

// Extensions built for SAM local listen on ":PORT" and subscribe "http://:PORT/": an empty host is
// loopback.
func TestEmptyHostDestination(t *testing.T) {
	h := newTestHub(t, Config{})
	c := newConsumer(t, nil)
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://:%d/"},"types":["function"]}`, c.port())
	if err := h.Subscribe("ext", []byte(body)); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "function", Record: "x"})
	flush(t, h)
	if got := types(c.events()); !slices.Equal(got, []string{"function"}) {
		t.Errorf("got %v", got)
	}
	err := h.Subscribe("ext", []byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://example.com:4323/"},"types":["function"]}`))
	if err == nil || !strings.Contains(err.Error(), "sandbox.localdomain, sandbox, 127.0.0.1, localhost or empty") {
		t.Errorf("foreign host: %v, want the accepted hosts listed", err)
	}
}

func TestTypesFilter(t *testing.T) {
	h := newTestHub(t, Config{})
	c := newConsumer(t, nil)
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "platform.start", Record: map[string]string{"requestId": "r1"}})
	h.Emit(Event{Type: "extension", Record: "x"})
	h.Emit(Event{Type: "function", Record: "f"})
	flush(t, h)
	if got := types(c.events()); !slices.Equal(got, []string{"function"}) {
		t.Errorf("got %v, want only function", got)
	}
}

func TestRetryAfterConsumerErrors(t *testing.T) {
	var calls atomic.Int64
	c := newConsumer(t, func() int {
		switch calls.Add(1) {
		case 1:
			return http.StatusInternalServerError
		case 2:
			return http.StatusServiceUnavailable
		case 3:
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	h := newTestHub(t, Config{})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	flush(t, h)
	if got := types(c.events()); !slices.Equal(got, []string{"platform.telemetrySubscription"}) {
		t.Errorf("got %v", got)
	}
	if s := h.Stats(); s.Retries != 3 || s.Delivered != 1 || s.DroppedRecords != 0 {
		t.Errorf("stats %+v, want 3 retries, 1 delivered, none dropped", s)
	}
}

func TestRetryAfterConnectionRefused(t *testing.T) {
	// Reserve a port, then free it: the first attempts find nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logs := newLogCapture()
	h := newTestHub(t, Config{Logger: logs.logger()})
	if err := h.Subscribe("ext", subscribeBody(port, `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	ctx, cancel := context.WithCancel(context.Background())
	flushed := make(chan error, 1)
	go func() { flushed <- h.Flush(ctx) }()
	// Wait for a failed attempt, then bring the consumer up on that port.
	logs.waitFor(t, "telemetry delivery failed, retrying")
	c := &consumer{t: t}
	ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		cancel()
		<-flushed
		t.Fatalf("relisten: %v", err)
	}
	srv := &http.Server{Handler: c}
	go srv.Serve(ln)
	defer srv.Close()
	if err := <-flushed; err != nil {
		t.Fatalf("flush: %v", err)
	}
	cancel()
	if got := types(c.events()); !slices.Equal(got, []string{"platform.telemetrySubscription"}) {
		t.Errorf("got %v", got)
	}
}

func TestPermanentRefusalDropsBatch(t *testing.T) {
	c := newConsumer(t, func() int { return http.StatusBadRequest })
	h := newTestHub(t, Config{})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	flush(t, h)
	if s := h.Stats(); s.DroppedRecords != 1 || s.Retries != maxRejects || s.Delivered != 0 {
		t.Errorf("stats %+v, want the batch dropped after %d retries", s, maxRejects)
	}
}

func TestLogsDroppedWhenConsumerDown(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	c := newConsumer(t, func() int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	h := newTestHub(t, Config{MaxQueueBytes: 1}) // raised to the subscription's maxBytes
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"platform","function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	line := strings.Repeat("x", 1000)
	const n = 400 // 400 KB of records against a 256 KiB queue
	for range n {
		h.Emit(Event{Type: "function", Record: line})
	}
	s := h.Stats()
	if s.DroppedRecords == 0 {
		t.Fatalf("nothing dropped with the consumer down: %+v", s)
	}
	down.Store(false)
	flush(t, h) // also waits for the logsDropped queued on recovery

	evs := c.events()
	var logs int
	var dropped *logsDroppedRecord
	for _, e := range evs {
		switch e.Type {
		case "function":
			logs++
		case "platform.logsDropped":
			if dropped != nil {
				t.Errorf("more than one logsDropped")
			}
			dropped = &logsDroppedRecord{}
			if err := json.Unmarshal(e.Record, dropped); err != nil {
				t.Fatal(err)
			}
		}
	}
	if dropped == nil {
		t.Fatalf("no platform.logsDropped among %d events", len(evs))
	}
	if uint64(logs)+dropped.DroppedRecords != n {
		t.Errorf("delivered %d + dropped %d != emitted %d", logs, dropped.DroppedRecords, n)
	}
	if dropped.DroppedRecords != s.DroppedRecords || dropped.DroppedBytes != s.DroppedBytes || dropped.Reason != logsDroppedReason {
		t.Errorf("logsDropped %+v, stats %+v", *dropped, s)
	}
	if dropped.DroppedBytes == 0 || dropped.DroppedBytes%dropped.DroppedRecords != 0 {
		t.Errorf("droppedBytes %d is not a whole number of equal records", dropped.DroppedBytes)
	}
}

func TestOversizedRecordDeliveredAlone(t *testing.T) {
	c := newConsumer(t, nil)
	h := newTestHub(t, Config{})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	big := strings.Repeat("y", 300000) // > maxBytes 262144
	h.Emit(Event{Type: "function", Record: "small 1"})
	h.Emit(Event{Type: "function", Record: big})
	h.Emit(Event{Type: "function", Record: "small 2"})
	flush(t, h)
	if got := c.batchSizes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("batch sizes %v, want the big record alone", got)
	}
	var got string
	if err := json.Unmarshal(c.events()[1].Record, &got); err != nil || got != big {
		t.Errorf("big record not delivered intact (%d bytes, %v)", len(got), err)
	}
}

func TestTCPDeliversNDJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 16)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	h := newTestHub(t, Config{})
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","port":%d},"types":["platform","function"]}`,
		ln.Addr().(*net.TCPAddr).Port)
	if err := h.Subscribe("ext", []byte(body)); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "function", Record: "line with\nnewline"})
	h.Emit(Event{Type: "function", Record: json.RawMessage("{\n \"a\": 1\n}")})
	flush(t, h)
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []wireEvent
	for l := range lines {
		var e wireEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q is not one event: %v", l, err)
		}
		got = append(got, e)
	}
	if tt := types(got); !slices.Equal(tt, []string{"platform.telemetrySubscription", "function", "function"}) {
		t.Fatalf("got %v", tt)
	}
	if string(got[2].Record) != `{"a":1}` {
		t.Errorf("raw record %s", got[2].Record)
	}
}

func TestDropEventHook(t *testing.T) {
	c := newConsumer(t, nil)
	h := newTestHub(t, Config{DropEvent: func(typ string) bool { return typ == "platform.report" }})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "platform.runtimeDone", Record: map[string]string{"requestId": "r", "status": "success"}})
	h.Emit(Event{Type: "platform.report", Record: map[string]string{"requestId": "r", "status": "success"}})
	flush(t, h)
	if got := types(c.events()); !slices.Equal(got, []string{"platform.telemetrySubscription", "platform.runtimeDone"}) {
		t.Errorf("got %v", got)
	}
	if s := h.Stats(); s.FaultDropped != 1 {
		t.Errorf("FaultDropped = %d, want 1", s.FaultDropped)
	}
}

func TestCloseFlushesAndIsIdempotent(t *testing.T) {
	c := newConsumer(t, nil)
	h := NewHub(Config{})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"function"`, `{"timeoutMs":30000}`)); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "function", Record: "last words"})
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := types(c.events()); !slices.Equal(got, []string{"function"}) {
		t.Errorf("close delivered %v", got)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("second close: %v", err)
	}
	h.Emit(Event{Type: "function", Record: "too late"})
	if s := h.Stats(); s.DroppedRecords != 1 {
		t.Errorf("an event after close must be counted as dropped: %+v", s)
	}
	if err := h.Subscribe("x", subscribeBody(c.port(), `"function"`, "")); err == nil {
		t.Errorf("subscribe after close succeeded")
	}
}

func TestCloseWithoutSubscribers(t *testing.T) {
	h := NewHub(Config{})
	h.Emit(Event{Type: "platform.initStart"})
	if err := h.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCloseGivesUpOnDeadConsumer(t *testing.T) {
	c := newConsumer(t, func() int { return http.StatusServiceUnavailable })
	h := NewHub(Config{})
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.Emit(Event{Type: "function", Record: "never delivered"})
	// The consumer never accepts, so Close's flush can only end by its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("close = %v, want context.Canceled", err)
	}
	if s := h.Stats(); s.DroppedRecords != 1 || s.Delivered != 0 {
		t.Errorf("stats %+v, want the record counted as dropped", s)
	}
}

func TestReplayOverflowIsReported(t *testing.T) {
	h := newTestHub(t, Config{})
	line := strings.Repeat("r", 1000)
	const n = 5000 // ~5.4 MB of init output against a 4 MiB replay buffer
	for range n {
		h.Emit(Event{Type: "function", Record: line})
	}
	c := newConsumer(t, nil)
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"platform","function"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	flush(t, h)
	var replayed int
	var dropped logsDroppedRecord
	for _, e := range c.events() {
		switch e.Type {
		case "function":
			replayed++
		case "platform.logsDropped":
			if err := json.Unmarshal(e.Record, &dropped); err != nil {
				t.Fatal(err)
			}
		}
	}
	if replayed == 0 || dropped.DroppedRecords == 0 || replayed+int(dropped.DroppedRecords) != n {
		t.Errorf("replayed %d + reported dropped %d, want %d in all", replayed, dropped.DroppedRecords, n)
	}
}

func TestConcurrentEmitLosesNothing(t *testing.T) {
	c := newConsumer(t, nil)
	h := newTestHub(t, Config{})
	for _, name := range []string{"a", "b"} {
		if err := h.Subscribe(name, subscribeBody(c.port(), `"function"`, `{"maxItems":1000,"timeoutMs":25}`)); err != nil {
			t.Fatal(err)
		}
	}
	h.CloseSubscriptions()
	const writers, lines = 4, 500
	done := make(chan struct{})
	for w := range writers {
		go func() {
			defer func() { done <- struct{}{} }()
			lw := h.LogWriter("function", "Text")
			defer lw.Close()
			for i := range lines {
				fmt.Fprintf(lw, "writer %d line %d\n", w, i)
			}
		}()
	}
	flushed := make(chan error)
	go func() { flushed <- h.Flush(context.Background()) }() // racing the writers on purpose
	for range writers {
		<-done
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	flush(t, h)
	seen := map[string]int{}
	for _, e := range c.events() {
		var s string
		_ = json.Unmarshal(e.Record, &s)
		seen[s]++
	}
	if len(seen) != writers*lines {
		t.Fatalf("%d distinct lines, want %d", len(seen), writers*lines)
	}
	for line, n := range seen {
		if n != 2 {
			t.Fatalf("%q delivered %d times, want once per subscriber", line, n)
		}
	}
}

// TestShutdownLossIsCountedNotWarned: once the environment shuts down, an extension that has closed
// its listener no longer takes records (its own last log lines, typically). That loss is expected:
// counted as dropped, logged below warning level.
func TestShutdownLossIsCountedNotWarned(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // the extension has exited: nobody listens any more
	logs := newLogCapture()
	h := NewHub(Config{Logger: logs.logger()})
	h.backoffBase, h.backoffMax = time.Millisecond, 10*time.Millisecond
	if err := h.Subscribe("ext", subscribeBody(port, `"platform"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	h.BeginShutdown()
	logs.waitFor(t, "telemetry delivery failed, retrying")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = h.Close(ctx) // the deadline passes: what is left is dropped
	if st := h.Stats(); st.DroppedRecords != 1 {
		t.Errorf("dropped records = %d, want 1 (the telemetrySubscription event)", st.DroppedRecords)
	}
	if logs.count("telemetry subscriber stopped with undelivered records") != 1 {
		t.Error("the loss was not logged")
	}
	if lv := logs.maxLevel(); lv >= slog.LevelWarn {
		t.Errorf("shutdown loss logged at %v, want below warning", lv)
	}
}
