package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/azlens/azlens/internal/clock"
)

// Config configures a Hub. Every field may be left zero.
type Config struct {
	// Client posts HTTP batches. Nil means a client of the hub's own, closed by Close.
	Client *http.Client
	// Logger logs delivery trouble (once per episode, never per event). Nil means discard.
	Logger *slog.Logger
	// Clock stamps events emitted without a Time and JSON log lines. Nil means the real clock.
	Clock clock.Clock
	// CurrentRequestID returns the invocation active now ("" outside one), written into the
	// requestId of JSON-format log records that LogWriter wraps. Nil means none.
	CurrentRequestID func() string
	// DropEvent is a fault hook: when it returns true the event is lost before delivery (counted
	// in Stats.FaultDropped, not reported as platform.logsDropped). It is called once per event,
	// from whatever goroutine calls Emit, so it must be safe for concurrent use. Nil means none.
	DropEvent func(eventType string) bool
	// DelayBatch is a fault hook: each batch is held this long before it is first sent (Flush
	// waits for it; Close cuts it short when its context ends). Called from the subscribers'
	// goroutines. Nil means none.
	DelayBatch func() time.Duration
	// MaxQueueBytes bounds the encoded events queued per subscriber while it is down or slow;
	// beyond it records are dropped and counted, and platform.logsDropped is sent once the
	// subscriber accepts again. Zero means DefaultMaxQueueBytes. A subscription's maxBytes
	// raises it when larger.
	MaxQueueBytes int
	// CheckDestination, when set, vets a valid subscription's destination before it is accepted
	// (protocol "HTTP" or "TCP", loopback port); a non-nil error (an *APIError to choose the
	// answer) refuses it. The emulator uses it to refuse a port another environment already
	// receives on when environments share one loopback. Nil means accept.
	CheckDestination func(extensionName, protocol string, port int) error
}

// DefaultMaxQueueBytes is the per-subscriber queue bound when Config.MaxQueueBytes is zero: four
// of the largest batches the API allows.
const DefaultMaxQueueBytes = 4 * maxMaxBytes

// Delivery tuning. Lambda documents none of these values.
const (
	// replayMaxBytes bounds the init events kept for replay to late subscribers.
	replayMaxBytes = 4 << 20
	// requestTimeout bounds one POST (or TCP write) so a hung consumer cannot stall its subscriber.
	defaultRequestTimeout = 10 * time.Second
	defaultBackoffBase    = 50 * time.Millisecond
	defaultBackoffMax     = 5 * time.Second
	// maxRejects is how often a batch refused with a permanent 4xx is retried before it is dropped,
	// so one batch a consumer cannot take does not wedge the subscription forever.
	maxRejects = 3
)

// Stats are the hub's counters since NewHub.
type Stats struct {
	Emitted        uint64 // events accepted by Emit
	Delivered      uint64 // records acknowledged by a subscriber (2xx, or written for TCP), per subscriber
	Batches        uint64 // batches delivered
	Retries        uint64 // failed delivery attempts that were retried
	DroppedRecords uint64 // records lost to a full queue, a rejected batch, or Close before delivery
	DroppedBytes   uint64
	FaultDropped   uint64 // events lost to the DropEvent hook
}

type counters struct {
	emitted, delivered, batches, retries, droppedRecords, droppedBytes, faultDropped atomic.Uint64
}

// Hub is one execution environment's Telemetry API: it takes subscriptions during init, fans events
// out to subscribers and delivers them in batches, one goroutine per subscriber.
type Hub struct {
	cfg        Config
	client     *http.Client
	ownClient  bool
	log        *slog.Logger
	clock      clock.Clock
	queueLimit int

	// Tests shorten these.
	requestTimeout, backoffBase, backoffMax time.Duration

	// shuttingDown is set when the environment's shutdown begins: subscribers then exit one by
	// one, and what they no longer take (typically their own last log lines) is an expected loss,
	// counted as dropped but not reported as a delivery problem.
	shuttingDown atomic.Bool

	// open is true while subscriptions are accepted, i.e. while init events are kept for replay;
	// Emit reads it without the lock to skip encoding events nobody can receive.
	open     atomic.Bool
	interest [catExtension + 1]atomic.Int32 // active subscribers per category

	mu          sync.Mutex
	subs        map[subKey]*subscriber // active, by extension and destination
	active      []*subscriber          // the same, as a slice: Emit ranges over it per event
	all         []*subscriber          // active and replaced ones still draining
	stopped     bool
	replay      []queued
	replayBytes int
	replayLost  map[category]*dropCount

	stats     counters
	lateOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

// NewHub returns a hub that accepts subscriptions until CloseSubscriptions.
func NewHub(cfg Config) *Hub {
	h := &Hub{
		cfg:            cfg,
		client:         cfg.Client,
		log:            cfg.Logger,
		clock:          cfg.Clock,
		queueLimit:     cfg.MaxQueueBytes,
		requestTimeout: defaultRequestTimeout,
		backoffBase:    defaultBackoffBase,
		backoffMax:     defaultBackoffMax,
		subs:           map[subKey]*subscriber{},
		replayLost:     map[category]*dropCount{},
	}
	if h.client == nil {
		h.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
		h.ownClient = true
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clock == nil {
		h.clock = clock.Real{}
	}
	if h.queueLimit <= 0 {
		h.queueLimit = DefaultMaxQueueBytes
	}
	h.open.Store(true)
	return h
}

// subKey identifies a subscription as Lambda does: one extension may subscribe several
// destinations (the OpenTelemetry collector subscribes its lifecycle listener and its receiver),
// and subscribing the same destination again updates that subscription.
type subKey struct {
	extension string
	dest      string // protocol, port and path: the host always means this environment
}

func keyOf(extensionName string, sub *subscription) subKey {
	return subKey{extensionName, sub.protocol + " " + strconv.Itoa(sub.port) + " " + sub.path}
}

// Subscribe handles the body of PUT /2022-07-01/telemetry from extensionName. Errors are
// *APIError. Subscriptions are per extension and destination: a second destination adds one,
// each with its own buffering, replay, retries and logsDropped accounting; the same destination
// again replaces that subscription (the old one still delivers what it had queued).
func (h *Hub) Subscribe(extensionName string, body []byte) error {
	sub, err := parseSubscription(body)
	if err != nil {
		return err
	}
	if h.cfg.CheckDestination != nil {
		if err := h.cfg.CheckDestination(extensionName, sub.protocol, sub.port); err != nil {
			return err
		}
	}
	key := keyOf(extensionName, sub)
	h.mu.Lock()
	if h.stopped || !h.open.Load() {
		h.mu.Unlock()
		return &APIError{Status: 403, Type: "Telemetry.SubscriptionClosed",
			Message: "telemetry subscriptions are accepted only during init"}
	}
	s := newSubscriber(h, extensionName, sub)
	s.key = key
	// Replay what init emitted so far: a subscriber starts late but must see initStart. A
	// subscription that replaces one to the same destination gets only the types the old one
	// lacked: the old one still delivers what it had, and the listener must not see it twice.
	replayTypes := sub.types
	old := h.subs[key]
	if old != nil {
		replayTypes &^= old.sub.types
	}
	now := time.Now()
	for _, q := range h.replay {
		if replayTypes&q.cat != 0 {
			s.queue = append(s.queue, queued{data: q.data, at: now, cat: q.cat})
			s.queuedBytes += len(q.data)
			s.enqSeq++
		}
	}
	for c, d := range h.replayLost {
		if replayTypes&c != 0 {
			s.drops.records += d.records
			s.drops.bytes += d.bytes
		}
	}
	if old != nil {
		h.untrack(old)
		old.retire()
	}
	h.subs[key] = s
	h.active = slices.DeleteFunc(h.active, func(x *subscriber) bool { return x.key == key })
	h.active = append(h.active, s)
	h.all = append(h.all, s)
	for c := catPlatform; c <= catExtension; c <<= 1 {
		if sub.types&c != 0 {
			h.interest[c].Add(1)
		}
	}
	h.mu.Unlock()
	go s.run()

	h.Emit(Event{Type: "platform.telemetrySubscription", Record: subscriptionRecord{
		Name: extensionName, State: "Subscribed", Types: sub.typeNames,
	}})
	return nil
}

func (h *Hub) untrack(s *subscriber) {
	for c := catPlatform; c <= catExtension; c <<= 1 {
		if s.sub.types&c != 0 {
			h.interest[c].Add(-1)
		}
	}
}

type subscriptionRecord struct {
	Name  string   `json:"name"`
	State string   `json:"state"`
	Types []string `json:"types"`
}

// CloseSubscriptions ends init for the Telemetry API: later Subscribe calls fail with
// Telemetry.SubscriptionClosed and init events are no longer kept for replay. Idempotent.
func (h *Hub) CloseSubscriptions() {
	h.mu.Lock()
	h.open.Store(false)
	h.replay, h.replayBytes = nil, 0
	h.replayLost = map[category]*dropCount{}
	h.mu.Unlock()
}

// Emit hands one event to every subscriber of its type. It never blocks on delivery: a subscriber
// that falls behind loses records (counted and reported) rather than slowing the invoke path.
func (h *Hub) Emit(e Event) {
	if h.cfg.DropEvent != nil && h.cfg.DropEvent(e.Type) {
		h.stats.faultDropped.Add(1)
		return
	}
	cat := categoryOf(e.Type)
	if !h.open.Load() && h.interest[cat].Load() == 0 {
		return // nobody can ever receive it; skip the encoding
	}
	now := time.Now()
	if e.Time.IsZero() {
		e.Time = now
		if h.cfg.Clock != nil {
			e.Time = h.cfg.Clock.Now()
		}
	}
	data, err := appendEvent(make([]byte, 0, 64+len(e.Type)+recordSizeHint(e.Record)), e)
	if err != nil {
		h.stats.droppedRecords.Add(1)
		h.log.Error("telemetry event dropped: cannot encode its record", "type", e.Type, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		h.stats.droppedRecords.Add(1)
		h.stats.droppedBytes.Add(uint64(len(data)))
		h.lateOnce.Do(func() { h.log.Warn("telemetry events emitted after close are dropped", "type", e.Type) })
		return
	}
	h.stats.emitted.Add(1)
	if h.open.Load() {
		if h.replayBytes+len(data) <= replayMaxBytes {
			h.replay = append(h.replay, queued{data: data, cat: cat})
			h.replayBytes += len(data)
		} else {
			d := h.replayLost[cat]
			if d == nil {
				d = &dropCount{}
				h.replayLost[cat] = d
			}
			d.records++
			d.bytes += uint64(len(data))
		}
	}
	for _, s := range h.active {
		if s.sub.types&cat != 0 {
			s.enqueue(data, cat, now)
		}
	}
}

// recordSizeHint guesses the encoded size of a record so that encoding a log line allocates once.
func recordSizeHint(r any) int {
	switch r := r.(type) {
	case string:
		return len(r) + len(r)/8 + 2
	case json.RawMessage:
		return len(r)
	default:
		return 192
	}
}

// Flush delivers everything queued when it is called, without waiting for batch timeouts, and
// returns when every subscriber has acknowledged it or ctx is done.
func (h *Hub) Flush(ctx context.Context) error {
	h.mu.Lock()
	subs := append([]*subscriber(nil), h.all...)
	h.mu.Unlock()
	targets := make([]uint64, len(subs))
	for i, s := range subs {
		targets[i] = s.requestFlush()
	}
	for i, s := range subs {
		if err := s.waitDelivered(ctx, targets[i]); err != nil {
			return fmt.Errorf("flush telemetry to %s: %w", s.name, err)
		}
	}
	return nil
}

// BeginShutdown tells the hub the environment is shutting down: extensions are about to exit, so
// delivery failures from now on are logged at debug level, and records left undelivered when Close
// stops a subscriber at info level. They are still counted in Stats as dropped.
func (h *Hub) BeginShutdown() { h.shuttingDown.Store(true) }

// Close flushes (bounded by ctx), then stops every subscriber; what could not be delivered is
// counted as dropped and logged. Events emitted afterwards are dropped. Idempotent; later calls
// return the first call's result.
func (h *Hub) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.stopped = true
		h.open.Store(false)
		h.replay, h.replayBytes = nil, 0
		h.mu.Unlock()
		h.closeErr = h.Flush(ctx)
		h.mu.Lock()
		subs := h.all
		h.mu.Unlock()
		for _, s := range subs {
			s.cancel()
		}
		for _, s := range subs {
			<-s.done
		}
		if h.ownClient {
			h.client.CloseIdleConnections()
		}
	})
	return h.closeErr
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	c := &h.stats
	return Stats{
		Emitted:        c.emitted.Load(),
		Delivered:      c.delivered.Load(),
		Batches:        c.batches.Load(),
		Retries:        c.retries.Load(),
		DroppedRecords: c.droppedRecords.Load(),
		DroppedBytes:   c.droppedBytes.Load(),
		FaultDropped:   c.faultDropped.Load(),
	}
}
