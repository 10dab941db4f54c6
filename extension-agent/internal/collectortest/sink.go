// Package collectortest is a test collector: an httptest server speaking the receiver side of the
// agent → collector wire format (v1: POST /v1/agent/batch; v2, which adds "otlp": /v2/agent/batch). It stands in for the lambdatelemetry
// receiver, built concurrently by another engineer, so the agent can be tested against the wire
// contract alone; it records every batch and answers what the test tells it to.
package collectortest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/contract"
)

// Batch is one accepted request.
type Batch struct {
	// Received is when the sink accepted the batch.
	Received time.Time
	Resource map[string]any
	Agent    Agent
	Events   []Event
	// OTLP holds wire format v2's OTLP payloads.
	OTLP   []OTLP
	Gzip   bool
	Header http.Header
}

// Agent is the agent object of a batch.
type Agent struct {
	Name               string  `json:"name"`
	Version            string  `json:"version"`
	Seq                uint64  `json:"seq"`
	EventsReceived     uint64  `json:"events_received"`
	EventsForwarded    uint64  `json:"events_forwarded"`
	EventsSpooled      uint64  `json:"events_spooled"`
	EventsReplayed     uint64  `json:"events_replayed"`
	EventsDropped      uint64  `json:"events_dropped"`
	BatchesSent        uint64  `json:"batches_sent"`
	BatchesFailed      uint64  `json:"batches_failed"`
	FlushDurationMsSum float64 `json:"flush_duration_ms_sum"`
	FlushCount         uint64  `json:"flush_count"`
	// Active is agent.active: nil when the batch carries none.
	Active *string `json:"active"`
}

// OTLP is one element of v2's "otlp" array; Body is a JSON string (base64 protobuf) or object.
type OTLP struct {
	Signal   string          `json:"signal"`
	Encoding string          `json:"encoding"`
	Body     json.RawMessage `json:"body"`
}

// Event is one Telemetry API event of a batch; Raw is its exact JSON.
type Event struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
	Raw    json.RawMessage `json:"-"`
}

// RequestID is record.requestId, or "".
func (e Event) RequestID() string {
	var r struct {
		RequestID string `json:"requestId"`
	}
	_ = json.Unmarshal(e.Record, &r)
	return r.RequestID
}

// Response is what the sink answers to one request; the zero value means 200.
type Response struct {
	Status     int
	RetryAfter int // seconds; 0 means no header
}

// Sink is the test collector.
type Sink struct {
	srv *httptest.Server
	// Token, when set, is required as the bearer token (401 otherwise).
	Token string

	mu       sync.Mutex
	batches  []Batch
	bodies   [][]byte
	requests int
	respond  func(n int) Response
	gate     chan struct{}
	changed  chan struct{}
}

// New starts a sink on 127.0.0.1 and closes it at the end of the test.
func New(t testing.TB) *Sink {
	s := &Sink{changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// NewTLS starts a sink serving https with a self-signed certificate (see CertificatePEM).
func NewTLS(t testing.TB) *Sink {
	s := &Sink{changed: make(chan struct{})}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// CertificatePEM is the TLS sink's certificate, for AZLENS_COLLECTOR_CA_FILE.
func (s *Sink) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// URL is the endpoint (AZLENS_COLLECTOR_ENDPOINT).
func (s *Sink) URL() string { return s.srv.URL }

// Close stops the sink (waiting for in-flight requests).
func (s *Sink) Close() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
	s.srv.Close()
}

// Respond sets how the sink answers request n (0-based, counting every request); nil means 200.
func (s *Sink) Respond(f func(n int) Response) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

// Hold makes requests wait until Release (a slow collector).
func (s *Sink) Hold() {
	s.mu.Lock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets held requests go on.
func (s *Sink) Release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.requests
	s.requests++
	respond, gate := s.respond, s.gate
	s.broadcastLocked()
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if r.Method != http.MethodPost || (r.URL.Path != contract.AgentBatchPath && r.URL.Path != contract.AgentBatchV2Path) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	raw, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, raw)
	s.mu.Unlock()
	b, err := decode(r, raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if respond != nil {
		if resp := respond(n); resp.Status != 0 && resp.Status != http.StatusOK {
			if resp.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(resp.RetryAfter))
			}
			http.Error(w, "test answer", resp.Status)
			return
		}
	}
	b.Received = time.Now()
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.broadcastLocked()
	s.mu.Unlock()
	fmt.Fprintf(w, `{"accepted":%d}`, len(b.Events))
}

// readBody returns the decompressed body.
func readBody(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		body = zr
	case "":
	default:
		return nil, fmt.Errorf("content-encoding %q", r.Header.Get("Content-Encoding"))
	}
	return io.ReadAll(body)
}

func decode(r *http.Request, data []byte) (Batch, error) {
	b := Batch{Header: r.Header.Clone(), Gzip: r.Header.Get("Content-Encoding") == "gzip"}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return b, fmt.Errorf("content-type %q", ct)
	}
	if !strings.HasPrefix(r.Header.Get("User-Agent"), "azlens-agent/") {
		return b, fmt.Errorf("user-agent %q", r.Header.Get("User-Agent"))
	}
	body := bytes.NewReader(data)
	var raw struct {
		Resource map[string]any    `json:"resource"`
		Agent    *Agent            `json:"agent"`
		Events   []json.RawMessage `json:"events"`
		OTLP     []OTLP            `json:"otlp"`
	}
	dec := json.NewDecoder(body)
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return b, fmt.Errorf("body: %w", err)
	}
	if raw.Resource == nil || raw.Agent == nil || raw.Events == nil {
		return b, fmt.Errorf("body lacks resource, agent or events")
	}
	b.Resource, b.Agent, b.OTLP = raw.Resource, *raw.Agent, raw.OTLP
	for i, e := range raw.Events {
		var ev Event
		if err := json.Unmarshal(e, &ev); err != nil || ev.Type == "" || ev.Time == "" {
			return b, fmt.Errorf("event %d: not a Telemetry API event", i)
		}
		ev.Raw = e
		b.Events = append(b.Events, ev)
	}
	return b, nil
}

func (s *Sink) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Batches returns the accepted batches so far.
func (s *Sink) Batches() []Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Batch(nil), s.batches...)
}

// Bodies returns the decompressed body of every request that reached the batch path (after the
// token check), accepted or not, in arrival order.
func (s *Sink) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// Requests is the number of requests received, accepted or not.
func (s *Sink) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Events returns the events of all accepted batches in arrival order.
func (s *Sink) Events() []Event {
	var out []Event
	for _, b := range s.Batches() {
		out = append(out, b.Events...)
	}
	return out
}

// Wait blocks until cond holds for the accepted batches and the request count, or ctx ends.
func (s *Sink) Wait(ctx context.Context, cond func(batches []Batch, requests int) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s.batches, s.requests)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("collector sink: condition not met: %w", ctx.Err())
		}
	}
}

// CountEvents counts the events in batches.
func CountEvents(batches []Batch) int {
	n := 0
	for _, b := range batches {
		n += len(b.Events)
	}
	return n
}
