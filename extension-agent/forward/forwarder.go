// Package forward batches Telemetry API events and OTLP payloads and sends them to the collector's
// lambdatelemetry receiver (wire format v2, POST {endpoint}/v2/agent/batch). Memory is bounded: what does not fit
// goes to a bounded spool on disk, replayed once the collector answers again; beyond that the
// oldest batches are dropped. Every event is accounted for in the agent's own cumulative counters,
// which travel with each batch.
package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azlens/azlens/extension-agent/listener"
	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/retryafter"
)

// Options configure a Forwarder.
type Options struct {
	// Endpoint is the receiver's base URL; batches go to Endpoint + BatchPath.
	Endpoint string
	// Token, when set, is sent as a bearer token.
	Token string
	// Gzip compresses bodies.
	Gzip bool
	// Timeout bounds one request.
	Timeout time.Duration
	// TLS configures https endpoints; nil means system defaults.
	TLS *tls.Config
	// Version goes in the User-Agent and the agent object.
	Version string

	// MemoryLimit bounds the bytes of events held in memory (a batch in flight may add one batch).
	MemoryLimit int
	// BatchMaxEvents, BatchMaxBytes and BatchMaxAge seal a batch, whichever comes first.
	BatchMaxEvents int
	BatchMaxBytes  int
	BatchMaxAge    time.Duration
	// RetryInitial and RetryMax bound the backoff (exponential, with jitter).
	RetryInitial time.Duration
	RetryMax     time.Duration

	// Spool takes overflow and what is left at shutdown; nil means overflow is dropped.
	Spool *Spool
	// HoldUntilSettled keeps the sender from sending until Settle (or Shutdown). The agent
	// sets it when the Telemetry API will name the environment (platform.initStart's
	// instanceId): a batch sent before that — the function's first spans reach the OTLP endpoint
	// before the platform's buffered events do — would carry another faas.instance, and the
	// receiver would keep it as a separate environment where nothing joins them.
	HoldUntilSettled bool
	// Log receives one line per kind of trouble, never one per event.
	Log *slog.Logger
	// Transport replaces the HTTP transport (tests); nil means a keep-alive transport using TLS.
	Transport http.RoundTripper
}

// ErrCollectorDown is returned by Flush when the collector is failing: flushing then returns at
// once instead of slowing every invocation; the data stays buffered for the background retries.
var ErrCollectorDown = errors.New("collector unavailable; data kept for retry")

// Forwarder owns the in-memory buffer, the sender goroutine and the counters.
type Forwarder struct {
	opt      Options
	url      string
	client   *http.Client
	resource atomic.Pointer[[]byte]
	c        counters
	warned   sync.Map // kind → struct{}: log each kind of trouble once
	// finalReported: the collector acknowledged the counters as Shutdown left them.
	finalReported atomic.Bool

	mu        sync.Mutex
	open      [][]byte
	openBytes int
	openSince time.Time
	queue     []*batch      // sealed, oldest first
	inflight  *batch        // a memory batch being sent
	memBytes  int           // events in open, queue and inflight
	maxAge    time.Duration // BatchMaxAge, or shorter while SetMaxAge says so
	order     uint64        // last order assigned at sealing
	failures  uint64        // retryable failures so far
	failing   bool          // the last attempt failed retryably
	retryAt   time.Time
	attempt   int
	changed   chan struct{}

	holding bool // HoldUntilSettled, until Settle

	// The active invocation (its function lines carry no requestId) as the events taken so far
	// left it; tracking once the listener reports transitions (AddTracked). The open batch
	// records the state at its first event and every change after it.
	active      string
	tracking    bool
	openActive  string
	openTracked bool
	openMarks   []mark

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type batch struct {
	order  uint64 // sealing order; halves of a split batch keep their parent's
	seq    uint64 // wire seq
	events [][]byte
	bytes  int
	// body is the encoding of the first attempt, resent byte for byte by every retry: the
	// receiver recognises a retry by (faas.instance, seq, body) and applies it once.
	body []byte
	gz   bool
	// active is the invocation active when the batch's first event was taken (wire agent.active,
	// sent when tracked); marks are the changes within the batch, so a split batch's second half
	// knows its own.
	active  string
	tracked bool
	marks   []mark
}

// mark: after events[at] the active invocation is active ("" for none).
type mark struct {
	at     int
	active string
}

// activeAt is the active invocation before events[i] of the batch.
func (b *batch) activeAt(i int) string {
	a := b.active
	for _, m := range b.marks {
		if m.at >= i {
			break
		}
		a = m.active
	}
	return a
}

// split cuts the batch before events[h], each half with its own active state and marks.
func (b *batch) split(h int, seq func() uint64) (*batch, *batch) {
	b1 := &batch{order: b.order, seq: seq(), events: b.events[:h], active: b.active, tracked: b.tracked}
	b2 := &batch{order: b.order, seq: seq(), events: b.events[h:], active: b.activeAt(h), tracked: b.tracked}
	for _, m := range b.marks {
		if m.at < h {
			b1.marks = append(b1.marks, m)
		} else {
			b2.marks = append(b2.marks, mark{at: m.at - h, active: m.active})
		}
	}
	for _, e := range b1.events {
		b1.bytes += len(e)
	}
	b2.bytes = b.bytes - b1.bytes
	return b1, b2
}

// New returns a Forwarder; Start runs its sender.
func New(opt Options, resource []byte) *Forwarder {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.BatchMaxEvents <= 0 {
		opt.BatchMaxEvents = 1000
	}
	if opt.BatchMaxBytes <= 0 {
		opt.BatchMaxBytes = 1 << 20
	}
	if opt.BatchMaxAge <= 0 {
		opt.BatchMaxAge = time.Second
	}
	if opt.MemoryLimit <= 0 {
		opt.MemoryLimit = 4 << 20
	}
	if opt.RetryInitial <= 0 {
		opt.RetryInitial = 100 * time.Millisecond
	}
	if opt.RetryMax < opt.RetryInitial {
		opt.RetryMax = opt.RetryInitial
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	f := &Forwarder{
		opt: opt,
		url: opt.Endpoint + BatchPath,
		// HTTP/1.1 also over TLS: the layer's binary leaves net/http's HTTP/2 out (its idle RSS
		// budget), and one flush at a time needs no multiplexing; idle connections are kept.
		client: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     opt.TLS,
			TLSHandshakeTimeout: opt.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		}},
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		holding: opt.HoldUntilSettled,
	}
	f.maxAge = opt.BatchMaxAge
	if opt.Transport != nil {
		f.client.Transport = opt.Transport
	}
	f.SetResource(resource)
	return f
}

// Settle ends HoldUntilSettled: the resource is final (set it first), the sender may send.
func (f *Forwarder) Settle() {
	f.mu.Lock()
	was := f.holding
	f.holding = false
	f.mu.Unlock()
	if was {
		f.poke()
	}
}

// SetResource replaces the resource (JSON object) of batches encoded from now on, e.g. when the
// environment id becomes known from platform.initStart.
func (f *Forwarder) SetResource(resource []byte) {
	r := bytes.Clone(resource)
	f.resource.Store(&r)
}

// Start runs the sender until Shutdown or Close.
func (f *Forwarder) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	go func() {
		defer close(f.done)
		f.run(ctx)
	}()
}

// BatchPath is where batches go: wire format v2. A v1 body (no "otlp") is a valid v2 body, so
// batches spooled by an older agent replay there unchanged.
const BatchPath = contract.AgentBatchV2Path

// AddOTLP takes one OTLP payload accepted by the OTLP endpoint (uncompressed body, owned by the
// forwarder from now on). It is one item of the batch, bounded, spooled and dropped like an event.
func (f *Forwarder) AddOTLP(signal, encoding string, body []byte) {
	item := otlpItem(signal, encoding, body)
	f.c.otlpReceived.Add(1)
	f.Add([][]byte{item}, len(item))
}

// RejectOTLP counts an OTLP request answered with an error status.
func (f *Forwarder) RejectOTLP() { f.c.otlpRejected.Add(1) }

// Add takes the events of one listener POST; they share one buffer the forwarder now owns.
func (f *Forwarder) Add(events [][]byte, size int) { f.add(events, size, nil, false) }

// AddTracked is Add with the POST's transitions of the active invocation (listener.TrackingSink):
// from then on every batch carries agent.active.
func (f *Forwarder) AddTracked(events [][]byte, size int, tr []listener.Transition) {
	f.add(events, size, tr, true)
}

func (f *Forwarder) add(events [][]byte, size int, tr []listener.Transition, tracked bool) {
	f.c.received.Add(uint64(len(events)))
	f.mu.Lock()
	now := time.Now()
	sealed := false
	if tracked {
		f.tracking = true
	}
	for i, e := range events {
		if len(f.open) == 0 {
			f.openSince = now
			f.openActive, f.openTracked, f.openMarks = f.active, f.tracking, nil
		}
		f.open = append(f.open, e)
		f.openBytes += len(e)
		changed := false
		for len(tr) > 0 && tr[0].Index <= i {
			switch t := tr[0]; {
			case !t.End:
				f.active, changed = t.RequestID, true
			case t.RequestID == f.active:
				f.active, changed = "", true
			}
			tr = tr[1:]
		}
		if changed {
			f.openMarks = append(f.openMarks, mark{at: len(f.open) - 1, active: f.active})
		}
		if len(f.open) >= f.opt.BatchMaxEvents || f.openBytes >= f.opt.BatchMaxBytes {
			f.sealLocked()
			sealed = true
		}
	}
	f.memBytes += size
	spill := f.overflowLocked()
	f.mu.Unlock()
	f.spill(spill, "memory limit reached")
	if sealed || len(events) > 0 {
		f.poke()
	}
}

func (f *Forwarder) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Forwarder) sealLocked() {
	if len(f.open) == 0 {
		return
	}
	f.order++
	f.queue = append(f.queue, &batch{order: f.order, seq: f.c.seq.Add(1), events: f.open, bytes: f.openBytes,
		active: f.openActive, tracked: f.openTracked, marks: f.openMarks})
	f.open, f.openBytes, f.openMarks = nil, 0, nil
}

// overflowLocked removes the oldest batches until memory is within the limit and returns them.
func (f *Forwarder) overflowLocked() []*batch {
	var out []*batch
	for f.memBytes > f.opt.MemoryLimit {
		if len(f.queue) == 0 {
			if len(f.open) == 0 {
				break // only the batch in flight is left
			}
			f.sealLocked()
		}
		b := f.queue[0]
		f.queue = f.queue[1:]
		f.memBytes -= b.bytes
		out = append(out, b)
	}
	if out != nil {
		f.broadcastLocked()
	}
	return out
}

// spill moves batches to the spool, or drops them (counted) when there is none or it fails.
func (f *Forwarder) spill(bs []*batch, why string) {
	for _, b := range bs {
		n := len(b.events)
		if f.opt.Spool == nil {
			f.drop(n, "dropped events: "+why+" and no spool", nil)
			continue
		}
		body, gz, err := f.encoded(b)
		if err != nil {
			f.drop(n, "dropped events: encode batch", err)
			continue
		}
		evicted, err := f.opt.Spool.Put(body, n, gz)
		if evicted > 0 {
			f.drop(evicted, "dropped oldest spooled events: spool limit reached", nil)
		}
		if err != nil {
			f.drop(n, "dropped events: spool batch", err)
			continue
		}
		f.c.spooled.Add(uint64(n))
		f.warnOnce("spool", "collector behind; spooling batches to disk", "reason", why)
	}
}

func (f *Forwarder) drop(n int, msg string, err error) {
	f.c.dropped.Add(uint64(n))
	if err != nil {
		f.warnOnce(msg, msg+" (further drops are only counted)", "events", n, "error", err)
	} else {
		f.warnOnce(msg, msg+" (further drops are only counted)", "events", n)
	}
}

func (f *Forwarder) warnOnce(kind, msg string, args ...any) {
	if _, loaded := f.warned.LoadOrStore(kind, struct{}{}); !loaded {
		f.opt.Log.Warn(msg, args...)
	}
}

func (f *Forwarder) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// run is the sender: one request at a time, memory first (freshest data, what Flush waits for),
// then the spool once the collector answers.
func (f *Forwarder) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		b, replay, wait := f.next()
		switch {
		case b != nil:
			f.finish(b, f.send(ctx, b))
			continue
		case replay:
			if f.replayOne(ctx) {
				continue
			}
			wait = -1
		}
		var tc <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tc = timer.C
		}
		select {
		case <-ctx.Done():
		case <-f.wake:
		case <-tc:
		}
	}
}

// next picks the next job: a memory batch, a spool replay, or how long to wait (-1: until poked).
func (f *Forwarder) next() (b *batch, replay bool, wait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holding {
		return nil, false, -1 // Settle pokes
	}
	now := time.Now()
	if !f.retryAt.IsZero() && now.Before(f.retryAt) {
		return nil, false, f.retryAt.Sub(now)
	}
	if len(f.queue) == 0 && len(f.open) > 0 {
		if age := now.Sub(f.openSince); age >= f.maxAge {
			f.sealLocked()
		} else {
			wait = f.maxAge - age
		}
	}
	if len(f.queue) > 0 {
		f.inflight = f.queue[0]
		f.queue = f.queue[1:]
		return f.inflight, false, 0
	}
	if f.opt.Spool != nil && f.opt.Spool.Len() > 0 {
		return nil, true, 0
	}
	if len(f.open) == 0 {
		wait = -1
	}
	return nil, false, wait
}

type outcome int

const (
	sent outcome = iota
	retry
	permanent
	tooLarge
	canceled
)

type result struct {
	outcome    outcome
	status     int
	retryAfter time.Duration
	err        error
}

func (f *Forwarder) send(ctx context.Context, b *batch) result {
	body, gz, err := f.encoded(b)
	if err != nil {
		return result{outcome: permanent, err: err}
	}
	return f.post(ctx, body, gz)
}

// encoded returns the batch's body, encoding it at the first call. Only the sender and spill
// (which works on batches removed from the queue) call it, never both for one batch.
func (f *Forwarder) encoded(b *batch) ([]byte, bool, error) {
	if b.body == nil {
		body, gz, err := f.encode(b)
		if err != nil {
			return nil, false, err
		}
		b.body, b.gz = body, gz
	}
	return b.body, b.gz, nil
}

func (f *Forwarder) post(ctx context.Context, body []byte, gz bool) result {
	rctx, cancel := context.WithTimeout(ctx, f.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return result{outcome: permanent, err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "azlens-agent/"+f.opt.Version)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if f.opt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.opt.Token)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return result{outcome: canceled, err: err}
		}
		return result{outcome: retry, err: err}
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	r := result{status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.outcome = sent
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		r.outcome = tooLarge
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		r.outcome = retry
		r.retryAfter, _ = retryafter.Parse(resp.Header.Get("Retry-After"), time.Now())
	default:
		r.outcome = permanent
	}
	if r.outcome != sent {
		r.err = fmt.Errorf("collector answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return r
}

// finish records the outcome of sending a memory batch.
func (f *Forwarder) finish(b *batch, r result) {
	n := len(b.events)
	f.mu.Lock()
	f.inflight = nil
	switch r.outcome {
	case sent:
		f.memBytes -= b.bytes
		f.c.forwarded.Add(uint64(n))
		f.c.batchesSent.Add(1)
		f.healthyLocked()
	case tooLarge:
		f.c.batchesFailed.Add(1)
		f.healthyLocked()
		if n > 1 {
			// The receiver's limit is lower than ours: halve and try again.
			b1, b2 := b.split(n/2, func() uint64 { return f.c.seq.Add(1) })
			f.queue = append([]*batch{b1, b2}, f.queue...)
			break
		}
		f.memBytes -= b.bytes
		f.mu.Unlock()
		f.drop(n, "dropped events: collector rejected a single event as too large", r.err)
		f.mu.Lock()
	case permanent:
		f.memBytes -= b.bytes
		f.c.batchesFailed.Add(1)
		f.healthyLocked()
		f.mu.Unlock()
		f.drop(n, "dropped events: collector rejected the batch", r.err)
		f.mu.Lock()
	case retry:
		f.c.batchesFailed.Add(1)
		f.queue = append([]*batch{b}, f.queue...)
		f.backoffLocked(r)
	case canceled:
		f.queue = append([]*batch{b}, f.queue...)
	}
	f.broadcastLocked()
	f.mu.Unlock()
}

func (f *Forwarder) healthyLocked() {
	f.failing, f.attempt, f.retryAt = false, 0, time.Time{}
}

func (f *Forwarder) backoffLocked(r result) {
	if !f.failing {
		f.warnOnce("retry", "collector unavailable; retrying with backoff", "error", r.err)
	}
	f.failing = true
	f.failures++
	f.attempt++
	d := f.opt.RetryInitial << min(f.attempt-1, 30)
	if d <= 0 || d > f.opt.RetryMax {
		d = f.opt.RetryMax
	}
	// Equal jitter: never below half the step, so a fleet recovering together spreads out.
	d = d/2 + rand.N(d/2+1)
	if r.retryAfter > d {
		d = min(r.retryAfter, f.opt.RetryMax)
	}
	f.retryAt = time.Now().Add(d)
}

// replayOne sends the oldest spooled batch; false when there was none to send.
func (f *Forwarder) replayOne(ctx context.Context) bool {
	sp := f.opt.Spool
	file, body, lost, ok := sp.take()
	if lost > 0 {
		f.drop(lost, "dropped events: unreadable spool file", nil)
	}
	if !ok {
		return false
	}
	r := f.post(ctx, body, file.gz)
	f.mu.Lock()
	switch r.outcome {
	case sent:
		f.c.replayed.Add(uint64(file.events))
		f.c.batchesSent.Add(1)
		f.healthyLocked()
		sp.done(file.name)
	case permanent, tooLarge:
		f.c.batchesFailed.Add(1)
		f.healthyLocked()
		sp.done(file.name)
		f.mu.Unlock()
		f.drop(file.events, "dropped events: collector rejected a spooled batch", r.err)
		f.mu.Lock()
	case retry:
		f.c.batchesFailed.Add(1)
		f.backoffLocked(r)
		sp.release(file.name)
	case canceled:
		sp.release(file.name)
	}
	f.broadcastLocked()
	f.mu.Unlock()
	return true
}

// Flush sends every event buffered so far and returns when they are acknowledged (or dropped for
// good), when ctx ends, or — at once — when the collector is failing (ErrCollectorDown): a down
// collector must not slow the function; the background sender keeps retrying.
func (f *Forwarder) Flush(ctx context.Context) error {
	start := time.Now()
	defer func() {
		f.c.flushMicros.Add(uint64(time.Since(start).Microseconds()))
		f.c.flushes.Add(1)
	}()
	return f.flush(ctx, flushNormal)
}

type flushMode int

const (
	flushNormal  flushMode = iota // give up at once if the collector is failing
	flushForce                    // one attempt now, whatever the backoff says
	flushPatient                  // wait for the sender's next attempt, backoff included
)

// flush waits until what is buffered now is acknowledged or dropped for good; it returns
// ErrCollectorDown at the first failed attempt.
func (f *Forwarder) flush(ctx context.Context, mode flushMode) error {
	f.mu.Lock()
	if f.failing && mode == flushNormal {
		f.mu.Unlock()
		return ErrCollectorDown
	}
	if mode == flushForce {
		f.retryAt = time.Time{}
	}
	f.sealLocked()
	target, failures := f.order, f.failures
	f.mu.Unlock()
	f.poke()
	for {
		f.mu.Lock()
		pending := (f.inflight != nil && f.inflight.order <= target) ||
			(len(f.queue) > 0 && f.queue[0].order <= target)
		failed := f.failures != failures
		ch := f.changed
		f.mu.Unlock()
		switch {
		case !pending:
			return nil
		case failed:
			return ErrCollectorDown
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetMaxAge lowers the age at which the sender seals and sends the open batch (never above
// BatchMaxAge; 0 restores it). The flush policy shortens it while a busy environment is thawed
// between back-to-back invocations, so data does not wait there for a whole BatchMaxAge.
func (f *Forwarder) SetMaxAge(d time.Duration) {
	if d <= 0 || d > f.opt.BatchMaxAge {
		d = f.opt.BatchMaxAge
	}
	f.mu.Lock()
	changed := f.maxAge != d
	f.maxAge = d
	f.mu.Unlock()
	if changed {
		f.poke()
	}
}

// Kick seals what is buffered and wakes the sender without waiting: a background flush.
func (f *Forwarder) Kick() {
	f.mu.Lock()
	f.sealLocked()
	f.mu.Unlock()
	f.poke()
}

// spoolReserve is kept from the shutdown budget for writing what could not be sent to the spool.
const spoolReserve = 200 * time.Millisecond

// Shutdown sends what it can within ctx — at once even if the collector was failing, then on the
// sender's backoff until spoolReserve before the deadline —, stops the sender, and spools (or,
// without a spool, drops and counts) what is left. Safe to call twice.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	var err error
	f.once.Do(func() {
		f.Settle() // what is held goes now, under the resource it has
		start := time.Now()
		sendCtx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok && time.Until(d) > 2*spoolReserve {
			sendCtx, cancel = context.WithDeadline(ctx, d.Add(-spoolReserve))
		}
		err = f.flush(sendCtx, flushForce)
		for errors.Is(err, ErrCollectorDown) && sendCtx.Err() == nil {
			err = f.flush(sendCtx, flushPatient)
		}
		cancel()
		f.c.flushMicros.Add(uint64(time.Since(start).Microseconds()))
		f.c.flushes.Add(1)
		f.stop()
		f.mu.Lock()
		f.sealLocked()
		left := f.queue
		f.queue = nil
		for _, b := range left {
			f.memBytes -= b.bytes
		}
		f.mu.Unlock()
		f.spill(left, "shutdown before the collector acknowledged")
		f.reportFinal(ctx)
		f.client.CloseIdleConnections()
		if f.opt.Spool != nil {
			f.opt.Spool.Close()
		}
	})
	return err
}

// reportFinal sends the counters as Shutdown leaves them — after the last flush and whatever it
// had to drop — in a batch without events, when the collector is answering and the budget allows.
// Without it the drops of the last moments, and the last batch's own acknowledgement, would reach
// nobody. The batch is not itself counted in batches_sent or batches_failed, so the counters it
// carries are final. Whether the collector acknowledged it is FinalReported; the agent's shutdown
// log line carries the same counters either way.
func (f *Forwarder) reportFinal(ctx context.Context) {
	f.mu.Lock()
	failing, active, tracked := f.failing, f.active, f.tracking
	f.mu.Unlock()
	if failing || ctx.Err() != nil || f.c.seq.Load() == 0 {
		return // the collector is down or there was never anything to report
	}
	b := &batch{seq: f.c.seq.Add(1), active: active, tracked: tracked}
	body, gz, err := f.encode(b)
	if err != nil {
		return
	}
	if r := f.post(ctx, body, gz); r.outcome == sent {
		f.finalReported.Store(true)
	}
}

// FinalReported reports whether Shutdown's final counters reached the collector.
func (f *Forwarder) FinalReported() bool { return f.finalReported.Load() }

// Close stops the sender without sending or spooling (tests, fatal errors).
func (f *Forwarder) Close() {
	f.once.Do(func() {
		f.stop()
		f.client.CloseIdleConnections()
		if f.opt.Spool != nil {
			f.opt.Spool.Close()
		}
	})
}

func (f *Forwarder) stop() {
	f.mu.Lock()
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-f.done
	}
}

// Failing reports whether the last attempt failed retryably.
func (f *Forwarder) Failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing
}

// Buffered is the number of bytes of events held in memory.
func (f *Forwarder) Buffered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.memBytes
}
