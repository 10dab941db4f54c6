package console

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// maxOTLPBody bounds one export request, decompressed. The collector's batches of a laptop run
// are far smaller; a bigger body is refused rather than buffered.
const maxOTLPBody = 16 << 20

// zoneAttr is the resource attribute naming the zone.
const zoneAttr = string(semconv.CloudAvailabilityZoneKey)

// Span is one span of a trace, as the waterfall draws it.
type Span struct {
	SpanID   string            `json:"span_id"`
	ParentID string            `json:"parent_id,omitempty"`
	Name     string            `json:"name"`
	Start    int64             `json:"start_unix_nano"`
	End      int64             `json:"end_unix_nano"`
	Error    bool              `json:"error,omitempty"`
	Attrs    map[string]string `json:"attributes,omitempty"`
}

// Trace is one recent invocation: the spans of one trace ID the collector exported.
type Trace struct {
	TraceID string  `json:"trace_id"`
	Zone    string  `json:"zone"`
	Name    string  `json:"name"` // the root span's (or first span's) name
	Start   int64   `json:"start_unix_nano"`
	Dur     float64 `json:"duration_ms"`
	Error   bool    `json:"error"`
	Spans   []Span  `json:"spans"`
}

// traceBuffer keeps the most recent traces of each zone.
type traceBuffer struct {
	zones []string
	max   int

	mu     sync.Mutex
	byID   map[string]*Trace
	recent map[string][]string // zone → trace IDs, oldest first

	// Dropped counts export requests refused (bad body) and spans without a zone.
	rejected atomic.Int64
	noZone   atomic.Int64
}

func newTraceBuffer(zones []string, max int) *traceBuffer {
	return &traceBuffer{zones: zones, max: max, byID: map[string]*Trace{}, recent: map[string][]string{}}
}

// add files every span of td under its trace, and the trace under its zone.
func (b *traceBuffer) add(td ptrace.Traces) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		zone := ""
		if v, ok := rs.Resource().Attributes().Get(zoneAttr); ok {
			zone = v.AsString()
		}
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				if zone == "" {
					b.noZone.Add(1)
					continue
				}
				b.addSpan(zone, sp)
			}
		}
	}
}

func (b *traceBuffer) addSpan(zone string, sp ptrace.Span) {
	id := sp.TraceID().String()
	t := b.byID[id]
	if t == nil {
		t = &Trace{TraceID: id, Zone: zone}
		b.byID[id] = t
		ids := append(b.recent[zone], id)
		if len(ids) > b.max {
			for _, old := range ids[:len(ids)-b.max] {
				delete(b.byID, old)
			}
			ids = append([]string(nil), ids[len(ids)-b.max:]...)
		}
		b.recent[zone] = ids
	}
	s := Span{
		SpanID: sp.SpanID().String(),
		Name:   sp.Name(),
		Start:  int64(sp.StartTimestamp()),
		End:    int64(sp.EndTimestamp()),
		Error:  sp.Status().Code() == ptrace.StatusCodeError,
		Attrs:  map[string]string{},
	}
	if !sp.ParentSpanID().IsEmpty() {
		s.ParentID = sp.ParentSpanID().String()
	}
	sp.Attributes().Range(func(k string, v pcommon.Value) bool {
		if len(s.Attrs) < 32 {
			s.Attrs[k] = truncate(v.AsString(), 200)
		}
		return true
	})
	if len(t.Spans) < 256 {
		t.Spans = append(t.Spans, s)
	}
	t.summarise()
}

// summarise sets the trace's headline from its spans: the root's name, the whole extent.
func (t *Trace) summarise() {
	ids := map[string]bool{}
	for _, s := range t.Spans {
		ids[s.SpanID] = true
	}
	var start, end int64
	t.Error, t.Name = false, ""
	for i, s := range t.Spans {
		if i == 0 || s.Start < start {
			start = s.Start
		}
		end = max(end, s.End)
		t.Error = t.Error || s.Error
		if t.Name == "" && (s.ParentID == "" || !ids[s.ParentID]) {
			t.Name = s.Name
		}
	}
	t.Start, t.Dur = start, float64(end-start)/1e6
}

// list returns the recent traces of zone (all zones when zone is ""), newest first, without
// their spans.
func (b *traceBuffer) list(zone string) []Trace {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Trace
	for z, ids := range b.recent {
		if zone != "" && z != zone {
			continue
		}
		for _, id := range ids {
			t := *b.byID[id]
			t.Spans = nil
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Trace) int {
		switch {
		case a.Start > b.Start:
			return -1
		case a.Start < b.Start:
			return 1
		}
		return strings.Compare(a.TraceID, b.TraceID)
	})
	return out
}

func (b *traceBuffer) get(id string) (Trace, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.byID[id]
	if !ok {
		return Trace{}, false
	}
	c := *t
	c.Spans = slices.Clone(t.Spans)
	slices.SortFunc(c.Spans, func(a, b Span) int { return int(min(max(a.Start-b.Start, -1), 1)) })
	return c, true
}

// decodeOTLPTraces parses one OTLP/HTTP trace export body of the given Content-Type and
// Content-Encoding.
func decodeOTLPTraces(body io.Reader, contentType, encoding string) (ptrace.Traces, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return ptrace.Traces{}, fmt.Errorf("content-encoding gzip: %w", err)
		}
		defer zr.Close()
		body = zr
	default:
		return ptrace.Traces{}, fmt.Errorf("content-encoding %q is not supported (want gzip or none)", encoding)
	}
	raw, err := io.ReadAll(io.LimitReader(body, maxOTLPBody+1))
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("read body: %w", err)
	}
	if len(raw) > maxOTLPBody {
		return ptrace.Traces{}, errTooLarge
	}
	req := ptraceotlp.NewExportRequest()
	mediaType, _, _ := strings.Cut(contentType, ";")
	switch strings.TrimSpace(strings.ToLower(mediaType)) {
	case "application/x-protobuf":
		err = req.UnmarshalProto(raw)
	case "application/json":
		err = req.UnmarshalJSON(raw)
	default:
		return ptrace.Traces{}, fmt.Errorf("content-type %q is not supported (want application/x-protobuf or application/json)", contentType)
	}
	if err != nil {
		return ptrace.Traces{}, fmt.Errorf("body: %w", err)
	}
	return req.Traces(), nil
}

var errTooLarge = errors.New("body larger than 16 MiB")

// otlpHandler is the OTLP/HTTP traces endpoint (POST /otlp/v1/traces) the collector's otlphttp
// exporter sends to. A refused body answers 400 (415 for a media type, 413 for size), which the
// exporter does not retry, and is counted and logged once.
func (c *Console) otlpHandler(log *slog.Logger, logged *sync.Once) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		td, err := decodeOTLPTraces(r.Body, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"))
		if err != nil {
			c.traces.rejected.Add(1)
			logged.Do(func() {
				log.Warn("console: refused an OTLP trace export (further ones are only counted)", "error", err)
			})
			status := http.StatusBadRequest
			switch {
			case errors.Is(err, errTooLarge):
				status = http.StatusRequestEntityTooLarge
			case strings.HasPrefix(err.Error(), "content-type"):
				status = http.StatusUnsupportedMediaType
			}
			http.Error(w, err.Error(), status)
			return
		}
		c.traces.add(td)
		resp := ptraceotlp.NewExportResponse()
		var b []byte
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			b, _ = resp.MarshalJSON()
			w.Header().Set("Content-Type", "application/json")
		} else {
			b, _ = resp.MarshalProto()
			w.Header().Set("Content-Type", "application/x-protobuf")
		}
		_, _ = w.Write(b)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
