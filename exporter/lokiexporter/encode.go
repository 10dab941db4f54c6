package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/azlens/azlens/internal/clock"
)

const (
	// fallbackLabelName/Value label a record that has none of the configured
	// label attributes: Loki refuses a stream without labels, and this is the
	// label Loki's own OTLP ingestion falls back to.
	fallbackLabelName  = "service_name"
	fallbackLabelValue = "unknown_service"

	traceIDName = "trace_id"
	spanIDName  = "span_id"
)

type labelSource uint8

// Values of encoder.recordSlot besides a slot index.
const (
	noRecordSlot    = math.MaxInt - 1
	manyRecordSlots = math.MaxInt
)

const (
	fromResource labelSource = iota
	fromRecord
	fromSeverity
)

// labelSlot is one configured stream label.
type labelSlot struct {
	name string
	key  string // attribute key; unused for severity
	src  labelSource
}

// metadataSlot is one configured structured metadata entry.
type metadataSlot struct {
	key  string
	name string
}

// encoder turns pdata logs into a Loki push request. It is immutable after
// newEncoder, so concurrent queue consumers share one.
type encoder struct {
	slots          []labelSlot // sorted by label name: the labels string is canonical
	recordSlot     int         // index of the one record-level slot, noRecordSlot, or manyRecordSlots
	labelKeys      map[string]struct{}
	metadata       []metadataSlot // sorted by key for a stable entry layout
	metadataKeys   map[string]struct{}
	allRecordAttrs bool
	clock          clock.Clock

	// bufs recycles protobuf marshal buffers; snappy output is not pooled
	// because the HTTP transport may still read the body after Do returns.
	bufs sync.Pool
}

func newEncoder(cfg *Config, clk clock.Clock) *encoder {
	e := &encoder{
		labelKeys:      map[string]struct{}{},
		metadataKeys:   map[string]struct{}{},
		allRecordAttrs: cfg.StructuredMetadata.AllLogAttributes,
		clock:          clk,
	}
	for key, name := range cfg.Labels.ResourceAttributes {
		if name != "" {
			e.slots = append(e.slots, labelSlot{name: name, key: key, src: fromResource})
		}
	}
	for key, name := range cfg.Labels.LogAttributes {
		if name != "" {
			e.slots = append(e.slots, labelSlot{name: name, key: key, src: fromRecord})
			e.labelKeys[key] = struct{}{}
		}
	}
	if cfg.Labels.Severity != "" {
		e.slots = append(e.slots, labelSlot{name: cfg.Labels.Severity, src: fromSeverity})
	}
	sort.Slice(e.slots, func(i, j int) bool { return e.slots[i].name < e.slots[j].name })
	e.recordSlot = noRecordSlot
	for i, slot := range e.slots {
		if slot.src == fromResource {
			continue
		}
		if e.recordSlot != noRecordSlot {
			e.recordSlot = manyRecordSlots
			break
		}
		e.recordSlot = i
	}
	for key, name := range cfg.StructuredMetadata.Attributes {
		if name != "" {
			e.metadata = append(e.metadata, metadataSlot{key: key, name: name})
			e.metadataKeys[key] = struct{}{}
		}
	}
	sort.Slice(e.metadata, func(i, j int) bool { return e.metadata[i].key < e.metadata[j].key })
	return e
}

// encode builds the push request for ld and returns it with its entry count.
// Entries of one stream are sorted by timestamp, as Loki's ingester wants.
func (e *encoder) encode(ld plog.Logs) (push.PushRequest, int) {
	var req push.PushRequest
	streams := map[string]int{}         // labels string → index in req.Streams
	resourceStreams := map[string]int{} // this resource's record label value → index
	values := make([]string, len(e.slots))
	var buf []byte
	var slab metadataSlab
	var now time.Time
	count := 0

	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		resAttrs := rl.Resource().Attributes()
		clear(resourceStreams)
		for s, slot := range e.slots {
			values[s] = ""
			if slot.src == fromResource {
				if v, ok := resAttrs.Get(slot.key); ok {
					values[s] = v.AsString()
				}
			}
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				attrs := lr.Attributes()
				for s, slot := range e.slots {
					switch slot.src {
					case fromRecord:
						values[s] = ""
						if v, ok := attrs.Get(slot.key); ok {
							values[s] = v.AsString()
						}
					case fromSeverity:
						values[s] = severityLevel(lr.SeverityNumber(), lr.SeverityText())
					}
				}
				// With at most one label from the record (the default: the
				// level), that value alone picks the stream within a resource,
				// so the labels string is built once per stream, not per record.
				key, cacheable := "", e.recordSlot != manyRecordSlots
				if e.recordSlot < len(values) {
					key = values[e.recordSlot]
				}
				idx, ok := resourceStreams[key]
				if !cacheable || !ok {
					buf = e.appendLabels(buf[:0], values)
					idx, ok = streams[string(buf)]
					if !ok {
						idx = len(req.Streams)
						labels := string(buf)
						streams[labels] = idx
						req.Streams = append(req.Streams, push.Stream{Labels: labels})
					}
					if cacheable {
						resourceStreams[key] = idx
					}
				}

				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				var t time.Time
				if ts != 0 {
					t = ts.AsTime()
				} else {
					// Loki refuses the epoch as too old; the export time is the
					// best remaining guess for a record nobody timed.
					if now.IsZero() {
						now = e.clock.Now()
					}
					t = now
				}
				req.Streams[idx].Entries = append(req.Streams[idx].Entries, push.Entry{
					Timestamp:          t,
					Line:               bodyLine(lr.Body()),
					StructuredMetadata: e.structuredMetadata(&slab, lr, attrs, resAttrs),
				})
				count++
			}
		}
	}
	for i := range req.Streams {
		entries := req.Streams[i].Entries
		if !slices.IsSortedFunc(entries, compareEntries) {
			slices.SortStableFunc(entries, compareEntries)
		}
	}
	return req, count
}

func compareEntries(a, b push.Entry) int { return a.Timestamp.Compare(b.Timestamp) }

// appendLabels writes the Prometheus-style labels string Loki parses,
// {a="x", b="y"}, skipping empty values (Loki drops them anyway).
func (e *encoder) appendLabels(buf []byte, values []string) []byte {
	buf = append(buf, '{')
	n := 0
	for s, v := range values {
		if v == "" {
			continue
		}
		if n > 0 {
			buf = append(buf, ", "...)
		}
		buf = append(buf, e.slots[s].name...)
		buf = append(buf, '=')
		buf = appendQuoted(buf, v)
		n++
	}
	if n == 0 {
		buf = append(buf, fallbackLabelName...)
		buf = append(buf, '=')
		buf = strconv.AppendQuote(buf, fallbackLabelValue)
	}
	return append(buf, '}')
}

// metadataSlab hands out structured metadata slices carved from one
// backing array per request, instead of a few small allocations per entry.
type metadataSlab struct {
	free []push.LabelAdapter // unused pairs, len == cap
}

// take returns an empty slice with room for n pairs.
func (s *metadataSlab) take(n int) push.LabelsAdapter {
	if len(s.free) < n {
		s.free = make([]push.LabelAdapter, max(n, 1024))
	}
	return s.free[:0:n]
}

// keep marks the first n pairs handed out by take as used.
func (s *metadataSlab) keep(n int) { s.free = s.free[n:] }

// appendQuoted appends v as a double-quoted Go string literal, the escaping
// Loki's labels parser undoes. Plain printable ASCII, nearly every label
// value, is copied as is.
func appendQuoted(buf []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(buf, strings.ToValidUTF8(v, "\uFFFD"))
		}
	}
	buf = append(buf, '"')
	buf = append(buf, v...)
	return append(buf, '"')
}

func (e *encoder) structuredMetadata(slab *metadataSlab, lr plog.LogRecord, attrs, resAttrs pcommon.Map) push.LabelsAdapter {
	limit := 2 + len(e.metadata)
	if e.allRecordAttrs {
		limit += attrs.Len()
	}
	md := slab.take(limit)
	tid, sid := lr.TraceID(), lr.SpanID()
	if !tid.IsEmpty() || !sid.IsEmpty() {
		// One string holds both ids; the pairs take substrings of it.
		var buf [2*len(tid) + 2*len(sid)]byte
		hex.Encode(buf[:2*len(tid)], tid[:])
		hex.Encode(buf[2*len(tid):], sid[:])
		ids := string(buf[:])
		if !tid.IsEmpty() {
			md = append(md, push.LabelAdapter{Name: traceIDName, Value: ids[:2*len(tid)]})
		}
		if !sid.IsEmpty() {
			md = append(md, push.LabelAdapter{Name: spanIDName, Value: ids[2*len(tid):]})
		}
	}
	for _, slot := range e.metadata {
		v, ok := attrs.Get(slot.key)
		if !ok {
			v, ok = resAttrs.Get(slot.key)
		}
		if ok {
			if s := v.AsString(); s != "" {
				md = append(md, push.LabelAdapter{Name: slot.name, Value: s})
			}
		}
	}
	if e.allRecordAttrs {
		for k, v := range attrs.All() {
			if _, used := e.labelKeys[k]; used {
				continue
			}
			if _, used := e.metadataKeys[k]; used {
				continue
			}
			if s := v.AsString(); s != "" {
				md = append(md, push.LabelAdapter{Name: metadataName(k), Value: s})
			}
		}
	}
	if len(md) == 0 {
		return nil
	}
	slab.keep(len(md))
	return md[:len(md):len(md)]
}

// metadataName makes an attribute key a label-style name the way Loki's OTLP
// ingestion does: anything outside [a-zA-Z0-9_] becomes "_", and a leading
// digit gets a "_" prefix. Valid keys are returned without allocating.
func metadataName(key string) string {
	if validLabelName(key) {
		return key
	}
	b := make([]byte, 0, len(key)+1)
	if key == "" || (key[0] >= '0' && key[0] <= '9') {
		b = append(b, '_')
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b = append(b, c)
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

// bodyLine renders the log body as Loki's line: a string as is, a map or
// slice as JSON, anything else in its OTLP string form.
func bodyLine(body pcommon.Value) string {
	if body.Type() == pcommon.ValueTypeStr {
		return body.Str()
	}
	return body.AsString()
}

// severityLevel reduces a record's severity to a fixed set of values, so the
// level label has bounded cardinality whatever text the function logged.
func severityLevel(num plog.SeverityNumber, text string) string {
	switch {
	case num >= plog.SeverityNumberFatal:
		return "fatal"
	case num >= plog.SeverityNumberError:
		return "error"
	case num >= plog.SeverityNumberWarn:
		return "warn"
	case num >= plog.SeverityNumberInfo:
		return "info"
	case num >= plog.SeverityNumberDebug:
		return "debug"
	case num >= plog.SeverityNumberTrace:
		return "trace"
	}
	switch strings.ToLower(text) {
	case "trace":
		return "trace"
	case "debug":
		return "debug"
	case "info", "information", "informational", "notice":
		return "info"
	case "warn", "warning":
		return "warn"
	case "error", "err":
		return "error"
	case "fatal", "critical", "crit", "panic", "emergency", "alert":
		return "fatal"
	}
	return "unknown"
}

// marshalSnappy encodes req as protobuf and compresses it with snappy's
// block format, which is what Loki's push handler decodes.
func (e *encoder) marshalSnappy(req *push.PushRequest) ([]byte, error) {
	size := req.Size()
	bp, _ := e.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer e.bufs.Put(bp)
	if cap(*bp) < size {
		*bp = make([]byte, size)
	}
	raw := (*bp)[:size]
	n, err := req.MarshalToSizedBuffer(raw)
	if err != nil {
		return nil, fmt.Errorf("marshal push request: %w", err)
	}
	return snappy.Encode(nil, raw[size-n:]), nil
}
