package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wireEvent is an event as a consumer decodes it from a batch.
type wireEvent struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
}

// consumer is a Telemetry API subscriber's HTTP listener: it records every batch POSTed to it and
// answers with the status its status func returns (200 when nil).
type consumer struct {
	t       *testing.T
	srv     *httptest.Server
	status  func() int
	batches chan []wireEvent

	mu  sync.Mutex
	all [][]wireEvent
	// hosts are the Host headers seen, to check the hub keeps the subscribed host.
	hosts []string
}

func (c *consumer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	code := http.StatusOK
	if c.status != nil {
		code = c.status()
	}
	if code/100 == 2 {
		var batch []wireEvent
		if err := json.Unmarshal(body, &batch); err != nil {
			c.t.Errorf("consumer: batch is not a json array of events: %v: %.200s", err, body)
		}
		c.mu.Lock()
		c.all = append(c.all, batch)
		c.hosts = append(c.hosts, r.Host)
		c.mu.Unlock()
		if c.batches != nil {
			c.batches <- batch
		}
	}
	w.WriteHeader(code)
}

// newConsumer starts a real HTTP listener on loopback.
func newConsumer(t *testing.T, status func() int) *consumer {
	t.Helper()
	c := &consumer{t: t, status: status}
	c.srv = httptest.NewServer(c)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *consumer) port() int {
	_, p, _ := net.SplitHostPort(c.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

func (c *consumer) events() []wireEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wireEvent
	for _, b := range c.all {
		out = append(out, b...)
	}
	return out
}

func (c *consumer) batchSizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, b := range c.all {
		out = append(out, len(b))
	}
	return out
}

func types(evs []wireEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// subscribeBody is a valid PUT /2022-07-01/telemetry body for an HTTP listener on port.
func subscribeBody(port int, typ string, buffering string) []byte {
	b := fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:%d/lambda_logs"},"types":[%s]`, port, typ)
	if buffering != "" {
		b += `,"buffering":` + buffering
	}
	return []byte(b + "}")
}

// newTestHub returns a hub with quick retries whose Close is checked at cleanup.
func newTestHub(t *testing.T, cfg Config) *Hub {
	t.Helper()
	h := NewHub(cfg)
	h.backoffBase, h.backoffMax = time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() {
		// Bounded: after a failed test the consumer may already be gone, and an unbounded
		// flush would retry against it until the test binary's timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil && !t.Failed() {
			t.Errorf("close: %v", err)
		}
	})
	return h
}

// flush's bound is a failure deadline only: delivering megabytes under -race on a loaded machine
// takes a while.
func flush(t *testing.T, h *Hub) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// pipeNet is an in-memory network for tests under testing/synctest, where real sockets would keep
// the bubble's clock from advancing: a real http.Server serves connections that a real
// http.Client dials, only the transport between them is net.Pipe.
type pipeNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }

func (p *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeConsumer serves c on an in-memory network and returns a client that reaches it whatever
// the address. Call the returned stop before leaving the bubble.
func pipeConsumer(c *consumer) (client *http.Client, stop func()) {
	pn := newPipeNet()
	srv := &http.Server{Handler: c}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(pn)
	}()
	tr := &http.Transport{DialContext: pn.dial}
	return &http.Client{Transport: tr}, func() {
		srv.Close()
		<-done
		tr.CloseIdleConnections()
	}
}

// counter counts calls, for status funcs.
type counter struct{ n atomic.Int64 }

// logCapture is a slog handler that lets a test wait for a log message.
type logCapture struct {
	mu     sync.Mutex
	msgs   []string
	levels []slog.Level
	more   chan struct{} // closed and replaced on every record
}

func newLogCapture() *logCapture { return &logCapture{more: make(chan struct{})} }

func (l *logCapture) logger() *slog.Logger { return slog.New(l) }

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logCapture) WithGroup(string) slog.Handler            { return l }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.levels = append(l.levels, r.Level)
	close(l.more)
	l.more = make(chan struct{})
	l.mu.Unlock()
	return nil
}

func (l *logCapture) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func (l *logCapture) waitFor(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		found, more := slices.Contains(l.msgs, msg), l.more
		l.mu.Unlock()
		if found {
			return
		}
		select {
		case <-more:
		case <-timeout:
			t.Fatalf("no log %q", msg)
		}
	}
}

// maxLevel is the highest level logged so far.
func (l *logCapture) maxLevel() slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	max := slog.LevelDebug - 1
	for _, lv := range l.levels {
		if lv > max {
			max = lv
		}
	}
	return max
}
