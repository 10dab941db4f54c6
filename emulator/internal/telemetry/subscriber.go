package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// queued is one encoded event waiting for delivery; at is when it was queued (monotonic), from
// which the batch timeout runs.
type queued struct {
	data []byte
	at   time.Time
	cat  category
}

type dropCount struct {
	records, bytes uint64
}

// logsDroppedReason is the reason Lambda gives in platform.logsDropped.
const logsDroppedReason = "Consumer seems to have fallen behind as it has not acknowledged receipt of logs."

type logsDroppedRecord struct {
	DroppedBytes   uint64 `json:"droppedBytes"`
	DroppedRecords uint64 `json:"droppedRecords"`
	Reason         string `json:"reason"`
}

// subscriber owns one subscription's queue and the goroutine that delivers it.
type subscriber struct {
	h      *Hub
	name   string
	key    subKey
	sub    *subscription
	limit  int
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	notify chan struct{} // capacity 1: "the queue or the flush target changed"

	mu          sync.Mutex
	queue       []queued
	queuedBytes int
	enqSeq      uint64 // events ever queued
	delSeq      uint64 // events ever taken off the queue (delivered or dropped)
	flushTarget uint64
	retiring    bool          // replaced: deliver what is queued, then exit
	progress    chan struct{} // closed and replaced whenever delSeq advances
	drops       dropCount     // since the last logsDropped
	dropLogged  bool
	// dropMark is enqSeq at the last drop; noticeSeq is the sequence number of the latest
	// logsDropped and noticeFor the dropMark it reports, so a Flush that covers a drop also waits
	// for its notice.
	dropMark, noticeSeq, noticeFor uint64

	conn net.Conn // TCP destination; owned by the run goroutine
}

func newSubscriber(h *Hub, name string, sub *subscription) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	return &subscriber{
		h:        h,
		name:     name,
		sub:      sub,
		limit:    max(h.queueLimit, sub.maxBytes),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		notify:   make(chan struct{}, 1),
		progress: make(chan struct{}),
	}
}

func (s *subscriber) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// enqueue is called by Emit with the hub locked; it must stay cheap and never block.
func (s *subscriber) enqueue(data []byte, cat category, now time.Time) {
	s.mu.Lock()
	if s.queuedBytes+len(data) > s.limit {
		s.drops.records++
		s.drops.bytes += uint64(len(data))
		s.dropMark = s.enqSeq
		s.h.stats.droppedRecords.Add(1)
		s.h.stats.droppedBytes.Add(uint64(len(data)))
		if !s.dropLogged {
			s.dropLogged = true
			s.h.log.Warn("telemetry subscriber fell behind, dropping records",
				"extension", s.name, "queued_bytes", s.queuedBytes, "limit_bytes", s.limit)
		}
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, queued{data: data, at: now, cat: cat})
	s.queuedBytes += len(data)
	s.enqSeq++
	// Wake the goroutine only when its plan changes: a first event starts the batch timer, a full
	// batch is due now. Waking it per event would cost a context switch on the invoke path.
	n := len(s.queue)
	wake := n == 1 || n == s.sub.maxItems ||
		(s.queuedBytes >= s.sub.maxBytes && s.queuedBytes-len(data) < s.sub.maxBytes)
	s.mu.Unlock()
	if wake {
		s.wake()
	}
}

func (s *subscriber) retire() {
	s.mu.Lock()
	s.retiring = true
	s.mu.Unlock()
	s.wake()
}

// requestFlush asks for everything queued now to be sent at once and returns the sequence number
// to wait for.
func (s *subscriber) requestFlush() uint64 {
	s.mu.Lock()
	target := s.enqSeq
	s.flushTarget = max(s.flushTarget, target)
	s.mu.Unlock()
	s.wake()
	return target
}

func (s *subscriber) waitDelivered(ctx context.Context, target uint64) error {
	for {
		s.mu.Lock()
		goal := target
		if s.noticeFor <= target {
			goal = max(goal, s.noticeSeq)
		}
		reached, progress := s.delSeq >= goal, s.progress
		s.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-progress:
		case <-s.done:
			return nil // stopped: whatever was left is counted as dropped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// run delivers batches until the subscriber is cancelled (Close) or, once replaced, drained.
func (s *subscriber) run() {
	defer s.exit()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.mu.Lock()
		n := len(s.queue)
		if n == 0 {
			retiring := s.retiring
			s.mu.Unlock()
			if retiring {
				return
			}
			select {
			case <-s.notify:
			case <-s.ctx.Done():
				return
			}
			continue
		}
		ready := s.retiring || s.flushTarget > s.delSeq ||
			n >= s.sub.maxItems || s.queuedBytes >= s.sub.maxBytes
		var wait time.Duration
		if !ready {
			wait = time.Until(s.queue[0].at.Add(s.sub.timeout))
			ready = wait <= 0
		}
		var batch []queued
		if ready {
			batch = s.batchLocked()
		}
		s.mu.Unlock()
		if !ready {
			timer.Reset(wait)
			select {
			case <-s.notify:
			case <-timer.C:
			case <-s.ctx.Done():
				timer.Stop()
				return
			}
			timer.Stop()
			continue
		}
		ok := s.deliver(batch)
		if !ok && s.ctx.Err() != nil {
			return // cancelled: exit counts the batch with the rest of the queue
		}
		s.pop(len(batch), ok)
	}
}

// batchLocked returns the head of the queue that fits the subscription's maxItems and maxBytes; a
// single record larger than maxBytes goes alone.
func (s *subscriber) batchLocked() []queued {
	size := 0
	for i, q := range s.queue {
		if i == s.sub.maxItems || (i > 0 && size+len(q.data) > s.sub.maxBytes) {
			return s.queue[:i]
		}
		size += len(q.data)
	}
	return s.queue
}

// pop removes a batch of n from the queue: delivered, or dropped when delivery gave up.
func (s *subscriber) pop(n int, delivered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var size int
	for _, q := range s.queue[:n] {
		size += len(q.data)
	}
	// Shift rather than reslice so the queue keeps its capacity instead of regrowing every batch.
	rest := copy(s.queue, s.queue[n:])
	clear(s.queue[rest:])
	s.queue = s.queue[:rest]
	s.queuedBytes -= size
	s.delSeq += uint64(n)
	close(s.progress)
	s.progress = make(chan struct{})
	if !delivered {
		s.drops.records += uint64(n)
		s.drops.bytes += uint64(size)
		s.dropMark = s.delSeq
		s.h.stats.droppedRecords.Add(uint64(n))
		s.h.stats.droppedBytes.Add(uint64(size))
		return
	}
	s.h.stats.delivered.Add(uint64(n))
	s.h.stats.batches.Add(1)
	if s.drops.records == 0 {
		return
	}
	// The subscriber accepts again: tell it what it missed.
	d := s.drops
	s.drops, s.dropLogged = dropCount{}, false
	s.h.log.Warn("telemetry subscriber recovered after dropping records",
		"extension", s.name, "dropped_records", d.records, "dropped_bytes", d.bytes)
	if s.sub.types&catPlatform == 0 {
		return
	}
	data, err := appendEvent(nil, Event{Time: s.h.clock.Now(), Type: "platform.logsDropped", Record: logsDroppedRecord{
		DroppedBytes: d.bytes, DroppedRecords: d.records, Reason: logsDroppedReason,
	}})
	if err != nil {
		return // cannot happen: the record is a plain struct
	}
	s.queue = append(s.queue, queued{data: data, at: time.Now(), cat: catPlatform})
	s.queuedBytes += len(data)
	s.enqSeq++
	s.noticeSeq, s.noticeFor = s.enqSeq, s.dropMark
	if s.flushTarget >= s.dropMark {
		s.flushTarget = s.enqSeq // a pending flush covers the drop: send its notice now too
	}
}

// exit runs when the goroutine ends; anything still queued is lost and is counted.
func (s *subscriber) exit() {
	s.mu.Lock()
	var size int
	for _, q := range s.queue {
		size += len(q.data)
	}
	n := len(s.queue)
	s.queue, s.queuedBytes = nil, 0
	s.delSeq += uint64(n)
	s.mu.Unlock()
	if n > 0 {
		s.h.stats.droppedRecords.Add(uint64(n))
		s.h.stats.droppedBytes.Add(uint64(size))
		level := slog.LevelWarn
		if s.h.shuttingDown.Load() {
			level = slog.LevelInfo // the extension has exited at shutdown: an expected, counted loss
		}
		s.h.log.Log(context.Background(), level, "telemetry subscriber stopped with undelivered records",
			"extension", s.name, "dropped_records", n, "dropped_bytes", size)
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.cancel()
	close(s.done)
}

// deliver sends one batch, retrying with capped exponential backoff. It returns false when the batch
// was not delivered: the subscriber was cancelled, or the consumer refused it permanently.
func (s *subscriber) deliver(batch []queued) bool {
	if s.h.cfg.DelayBatch != nil {
		if d := s.h.cfg.DelayBatch(); d > 0 && !s.pause(d) {
			return false
		}
	}
	body := s.encode(batch)
	rejects := 0
	failing := false
	for attempt := 0; ; attempt++ {
		err := s.send(body)
		if err == nil {
			if failing {
				s.h.log.Info("telemetry delivery recovered", "extension", s.name, "attempts", attempt+1)
			}
			return true
		}
		if s.ctx.Err() != nil {
			return false
		}
		if se, ok := errors.AsType[*statusError](err); ok && se.permanent() {
			rejects++
			if rejects > maxRejects {
				s.h.log.Error("telemetry batch dropped: consumer keeps refusing it",
					"extension", s.name, "records", len(batch), "err", err)
				return false
			}
		}
		if !failing {
			failing = true
			level := slog.LevelWarn
			if s.h.shuttingDown.Load() {
				level = slog.LevelDebug // extensions close their listeners as they exit
			}
			s.h.log.Log(context.Background(), level, "telemetry delivery failed, retrying", "extension", s.name, "err", err)
		}
		s.h.stats.retries.Add(1)
		if !s.pause(s.backoff(attempt)) {
			return false
		}
	}
}

func (s *subscriber) backoff(attempt int) time.Duration {
	d := s.h.backoffBase
	for i := 0; i < attempt && d < s.h.backoffMax; i++ {
		d *= 2
	}
	return min(d, s.h.backoffMax)
}

// pause waits d unless the subscriber is cancelled first.
func (s *subscriber) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// encode builds the wire form of a batch: a JSON array for HTTP, NDJSON for TCP. A fresh buffer per
// batch, because the HTTP transport may still read a body after the response arrived.
func (s *subscriber) encode(batch []queued) []byte {
	size := 2
	for _, q := range batch {
		size += len(q.data) + 1
	}
	body := make([]byte, 0, size)
	if s.sub.protocol == "TCP" {
		for _, q := range batch {
			body = append(body, q.data...)
			body = append(body, '\n')
		}
		return body
	}
	body = append(body, '[')
	for i, q := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, q.data...)
	}
	return append(body, ']')
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "consumer answered " + strconv.Itoa(e.code) }

// permanent reports a refusal that retrying will not fix; 408 and 429 ask to retry.
func (e *statusError) permanent() bool {
	return e.code >= 400 && e.code < 500 && e.code != 408 && e.code != 429
}

func (s *subscriber) send(body []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.h.requestTimeout)
	defer cancel()
	if s.sub.protocol == "TCP" {
		return s.sendTCP(ctx, body)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(s.sub.port) + s.sub.path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	// The extension asked for sandbox.localdomain; we dial loopback but keep its Host.
	req.Host = s.sub.host
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.h.client.Do(req)
	if err != nil {
		return err
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &statusError{code: resp.StatusCode}
	}
	return nil
}

func (s *subscriber) sendTCP(ctx context.Context, body []byte) error {
	if s.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.sub.port)))
		if err != nil {
			return err
		}
		s.conn = conn
	}
	conn := s.conn
	deadline, _ := ctx.Deadline()
	conn.SetWriteDeadline(deadline)
	// Cancellation (Close) must interrupt a write stuck on a consumer that stopped reading.
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := conn.Write(body)
	stop()
	if err != nil {
		// A partial write leaves the stream mid-record: start over on a new connection.
		conn.Close()
		s.conn = nil
		return fmt.Errorf("write ndjson: %w", err)
	}
	return nil
}
