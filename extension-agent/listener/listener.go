// Package listener is the agent's Telemetry API destination: an HTTP server that Lambda POSTs JSON
// arrays of events to. It validates and splits each body into events (kept byte-exact as the
// compact JSON Lambda sent), hands them to a Sink and answers at once, so Lambda never has to retry
// because the agent is busy; sending is someone else's job.
package listener

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

	"github.com/valyala/fastjson"
)

// MaxBody bounds one POST. Lambda sends at most 2×maxBytes (2 MiB) plus metadata; the margin keeps
// a misbehaving sender from exhausting memory while accepting anything Lambda can produce.
const MaxBody = 32 << 20

// Path is the URL path the listener is subscribed under.
const Path = "/telemetry"

// Sink receives the events of one POST, in arrival order. The slices share one buffer that the
// sink now owns; size is the sum of their lengths.
type Sink interface {
	Add(events [][]byte, size int)
}

// TrackingSink is a Sink that also learns where the active invocation changes — the invocation
// that function lines without a requestId of their own belong to. The forwarder records on each
// batch which invocation was active at its first event, so the receiver attributes lines right
// even when it processes batches out of order (spool replays, a restarted collector).
type TrackingSink interface {
	Sink
	AddTracked(events [][]byte, size int, tr []Transition)
}

// Transition is a change of the active invocation at events[Index] of one POST: platform.start
// makes RequestID active; platform.report (End) ends it if it is the active one.
type Transition struct {
	Index     int
	RequestID string
	End       bool
}

// Notice is a platform event the agent's lifecycle reacts to.
type Notice struct {
	// Type is the event type, e.g. "platform.runtimeDone".
	Type string
	// RequestID is record.requestId (start, runtimeDone, report).
	RequestID string
	// InstanceID is record.instanceId (initStart, restoreStart), when present.
	InstanceID string
	// Time is the event's time: when the platform generated it (for runtimeDone, when the runtime
	// finished). Zero when absent or unreadable.
	Time time.Time
}

// identity reports whether the notice says who the environment is rather than where its
// invocations stand.
func (n Notice) identity() bool {
	return n.Type == "platform.initStart" || n.Type == "platform.restoreStart"
}

// Handler is the http.Handler of the listener.
type Handler struct {
	sink   Sink
	notify func(Notice)
	log    *slog.Logger

	parsers fastjson.ParserPool
	badOnce sync.Once
}

// NewHandler returns a handler giving events to sink and platform notices to notify (may be nil).
func NewHandler(sink Sink, notify func(Notice), log *slog.Logger) *Handler {
	if notify == nil {
		notify = func(Notice) {}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sink: sink, notify: notify, log: log}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	// The body becomes the events' storage: each event is a slice of it, handed to the sink, so
	// a POST is read once and never copied.
	body, err := readBody(r, nil)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, err.Error(), status)
		return
	}
	events, size, tr, notices, err := h.split(body)
	if err != nil {
		h.badOnce.Do(func() { h.log.Warn("rejected a malformed telemetry body", "error", err) })
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// An identity notice (initStart, restoreStart: the environment's instance id) fires before
	// the events are stored: the agent re-stamps its resource, and a flush racing this POST
	// must not send its own initStart, or the function's first spans, under the old faas.instance,
	// which the receiver would keep as a separate environment where nothing joins them.
	for _, n := range notices {
		if n.identity() {
			h.notify(n)
		}
	}
	if len(events) > 0 {
		if ts, ok := h.sink.(TrackingSink); ok {
			ts.AddTracked(events, size, tr)
		} else {
			h.sink.Add(events, size)
		}
	}
	// Only now that the events are in the sink: an invocation held until its runtimeDone is seen
	// flushes at once, and its runtimeDone must be in what that flush sends (end mode promises the
	// invocation's data left before the environment may freeze).
	for _, n := range notices {
		if !n.identity() {
			h.notify(n)
		}
	}
	w.WriteHeader(http.StatusOK)
}

var errTooLarge = errors.New("body too large")

func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= MaxBody && int64(cap(buf)) <= n {
		buf = make([]byte, 0, n+1) // +1: seeing EOF must not grow (copy) the whole body
	}
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= MaxBody {
				return buf, errTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxBody {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, fmt.Errorf("read body: %w", err)
		}
	}
}

// Split validates body (a JSON array of Telemetry API events) and returns its events, each the
// exact bytes Lambda sent (slices of body). It is what the listener does with every POST.
func Split(body []byte) ([][]byte, error) {
	h := NewHandler(nil, nil, nil)
	events, _, _, _, err := h.split(body)
	return events, err
}

// split validates the body and cuts it into events in the same pass (scanner). Only platform
// events — small — are parsed, for the fields the lifecycle (the notices, for the caller to send
// once the events are stored) and the active invocation's transitions need.
func (h *Handler) split(body []byte) ([][]byte, int, []Transition, []Notice, error) {
	var events [][]byte
	var platform []int // indexes of platform events, acted on once the whole body is valid
	size := 0
	sc := scanner{b: body}
	err := sc.events(func(ev, typ []byte) error {
		if typ == nil {
			return errors.New("type must be a string")
		}
		if bytes.HasPrefix(typ, []byte("platform.")) {
			platform = append(platform, len(events))
		}
		events = append(events, ev)
		size += len(ev)
		return nil
	})
	if err != nil {
		return nil, 0, nil, nil, fmt.Errorf("body: %w", err)
	}
	var tr []Transition
	var notices []Notice
	for _, i := range platform {
		if n, ok := h.platform(events[i]); ok {
			notices = append(notices, n)
			switch n.Type {
			case "platform.start":
				tr = append(tr, Transition{Index: i, RequestID: n.RequestID})
			case "platform.report":
				tr = append(tr, Transition{Index: i, RequestID: n.RequestID, End: true})
			}
		}
	}
	return events, size, tr, notices, nil
}

// platform returns the notice of a platform event for the lifecycle (false for types the
// lifecycle ignores).
func (h *Handler) platform(ev []byte) (Notice, bool) {
	p := h.parsers.Get()
	defer h.parsers.Put(p)
	v, err := p.ParseBytes(ev)
	if err != nil {
		return Notice{}, false // validated already; cannot happen
	}
	var n Notice
	switch typ := string(v.GetStringBytes("type")); typ {
	case "platform.initStart", "platform.restoreStart":
		n = Notice{Type: typ, InstanceID: string(v.GetStringBytes("record", "instanceId"))}
	case "platform.start", "platform.runtimeDone", "platform.report":
		at, _ := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("time")))
		n = Notice{Type: typ, RequestID: string(v.GetStringBytes("record", "requestId")), Time: at}
	default:
		return Notice{}, false
	}
	return n, true
}

// Server is the listener's HTTP server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// BindHost is the host the listener binds to: Lambda routes Telemetry API deliveries to
// sandbox.localdomain, while local runners (SAM, the azlens emulator) set AWS_SAM_LOCAL=true and
// deliver to loopback.
func BindHost(getenv func(string) string) string {
	if getenv("AWS_SAM_LOCAL") == "true" {
		return "127.0.0.1"
	}
	return "sandbox.localdomain"
}

// Listen binds host:port (port 0 picks one) and serves h until Shutdown. When host cannot be
// resolved (a local runner that neither sets AWS_SAM_LOCAL nor resolves sandbox.localdomain) it
// falls back to 127.0.0.1 rather than failing the function.
func Listen(host string, port int, h http.Handler, log *slog.Logger) (*Server, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	var dnsErr *net.DNSError
	if err != nil && errors.As(err, &dnsErr) && host != "127.0.0.1" {
		if log != nil {
			log.Warn("listener host does not resolve; using 127.0.0.1", "host", host)
		}
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       5 * time.Minute,
			ErrorLog:          nil,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Port is the bound port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for in-flight POSTs (bounded by ctx) and returns when the serving
// goroutine has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}
