// Package otlpin is the agent's OTLP/HTTP endpoint (127.0.0.1:4318 by default, where the
// OpenTelemetry SDK exports): /v1/traces, /v1/metrics and /v1/logs, protobuf or JSON, optionally
// gzip. The agent does not decode OTLP — a decoder would double its binary —: it checks just
// enough to answer as an OTLP server must (200, 400, 413, 415), and hands the payload's bytes to
// the forwarder, which sends them in its batches (wire format v2) under the same memory bound,
// spool and drop accounting as the Telemetry API's events. The collector decodes them.
package otlpin

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/extension-agent/listener"
)

// Signals, as named in the paths and in wire format v2.
const (
	Traces  = "traces"
	Metrics = "metrics"
	Logs    = "logs"
)

// Encodings of a stored payload.
const (
	Protobuf = "protobuf"
	JSON     = "json"
)

const (
	ctProtobuf = "application/x-protobuf"
	ctJSON     = "application/json"
)

// Sink takes accepted payloads. body is the uncompressed request body, owned by the sink.
type Sink interface {
	AddOTLP(signal, encoding string, body []byte)
}

// Counter counts requests answered with an error (the SDK's data is lost for good then).
type Counter interface {
	RejectOTLP()
}

// Handler serves the three OTLP/HTTP paths.
type Handler struct {
	sink    Sink
	rejects Counter
	max     int
	log     *slog.Logger
	warned  sync.Map
}

// NewHandler returns a handler storing payloads of at most maxBytes (compressed and uncompressed).
func NewHandler(sink Sink, rejects Counter, maxBytes int, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{sink: sink, rejects: rejects, max: maxBytes, log: log}
}

// signal is the signal of an OTLP path and the name of its top-level repeated field.
func signal(path string) (sig, field string, ok bool) {
	switch path {
	case "/v1/traces":
		return Traces, "resource_spans", true
	case "/v1/metrics":
		return Metrics, "resource_metrics", true
	case "/v1/logs":
		return Logs, "resource_logs", true
	}
	return "", "", false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sig, field, ok := signal(r.URL.Path)
	if !ok {
		h.fail(w, ctJSON, http.StatusNotFound, "path %q not served: use /v1/traces, /v1/metrics or /v1/logs", r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, ctJSON, http.StatusMethodNotAllowed, "method %s not allowed: use POST", r.Method)
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var encoding string
	switch mt {
	case ctProtobuf:
		encoding = Protobuf
	case ctJSON:
		encoding = JSON
	default:
		h.fail(w, ctJSON, http.StatusUnsupportedMediaType, "Content-Type %q not supported: use %s or %s", ct, ctProtobuf, ctJSON)
		return
	}
	answerCT := ctProtobuf
	if encoding == JSON {
		answerCT = ctJSON
	}
	if r.ContentLength > int64(h.max) {
		h.fail(w, answerCT, http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d bytes (AZLENS_OTLP_MAX_BYTES)", r.ContentLength, h.max)
		return
	}
	var src io.Reader = r.Body
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(&capped{r: r.Body, left: int64(h.max)})
		if errors.Is(err, errTooLarge) {
			h.fail(w, answerCT, http.StatusRequestEntityTooLarge, "body: compressed %v", err)
			return
		}
		if err != nil {
			h.fail(w, answerCT, http.StatusBadRequest, "Content-Encoding gzip: body is not gzip: %v", err)
			return
		}
		defer zr.Close()
		src = zr
	default:
		h.fail(w, answerCT, http.StatusUnsupportedMediaType, "Content-Encoding %q not supported: use gzip or none", ce)
		return
	}
	body, err := readLimited(src, h.max, r.ContentLength)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		h.fail(w, answerCT, status, "body: %v", err)
		return
	}
	if encoding == Protobuf {
		err = validateProto(body, field)
	} else {
		err = listener.ValidateObject(body)
	}
	if err != nil {
		h.fail(w, answerCT, http.StatusBadRequest, "malformed %s %s request: %v", encoding, sig, err)
		return
	}
	if !empty(body, encoding) {
		h.sink.AddOTLP(sig, encoding, body)
	}
	// Full success: an Export*ServiceResponse without partial_success, which is the empty message.
	w.Header().Set("Content-Type", answerCT)
	if encoding == JSON {
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// empty reports a request without data (an empty message), which is not worth forwarding.
func empty(body []byte, encoding string) bool {
	if encoding == Protobuf {
		return len(body) == 0
	}
	return len(bytes.TrimSpace(body)) == 2 // "{}" once validated
}

var errTooLarge = errors.New("over the limit (AZLENS_OTLP_MAX_BYTES)")

// capped fails with errTooLarge once more than left bytes were read: a compressed body over the
// limit is answered 413, not 400 for the truncated stream a plain io.LimitReader would make.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// readLimited reads at most max bytes; hint is the Content-Length (or -1) to size the buffer once.
func readLimited(r io.Reader, max int, hint int64) ([]byte, error) {
	size := 512
	if hint > 0 && hint <= int64(max) {
		size = int(hint) + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// fail answers with a google.rpc.Status in the request's encoding (OTLP/HTTP's error body), counts
// the rejection and logs the first of each status.
func (h *Handler) fail(w http.ResponseWriter, ct string, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if h.rejects != nil {
		h.rejects.RejectOTLP()
	}
	if _, seen := h.warned.LoadOrStore(status, struct{}{}); !seen {
		h.log.Warn("rejected an OTLP request (further ones are only counted in otlp_rejected)", "status", status, "error", msg)
	}
	code := 3 // INVALID_ARGUMENT
	switch status {
	case http.StatusNotFound:
		code = 12 // UNIMPLEMENTED
	case http.StatusRequestEntityTooLarge:
		code = 8 // RESOURCE_EXHAUSTED
	}
	var body []byte
	if ct == ctJSON {
		m, _ := json.Marshal(msg)
		body = fmt.Appendf(nil, `{"code":%d,"message":%s}`, code, m)
	} else {
		body = appendVarint(append(body, 1<<3|wireVarint), uint64(code))
		body = append(body, 2<<3|wireLen)
		body = appendVarint(body, uint64(len(msg)))
		body = append(body, msg...)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Server is a running endpoint.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen serves h on addr (host:port) until Shutdown.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &Server{
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops accepting, waits for requests in flight (bounded by ctx): what they carry is in
// the forwarder before the last flush.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}
