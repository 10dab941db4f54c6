package telemetryevent

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/azlens/azlens/internal/xray"
)

// Decoder decodes request bodies. It is safe for concurrent use; parsers are
// pooled so steady-state decoding allocates only the per-batch arena and
// slices.
type Decoder struct {
	parsers fastjson.ParserPool
	batches sync.Pool
}

// maxPooledEvents keeps a pooled batch from pinning the arrays of one
// exceptionally large request.
const maxPooledEvents = 16384

// Release hands a batch's event, span and field arrays back for reuse once
// the caller no longer reads b (strings taken from it stay valid: they live
// in a separate arena). Optional; without it the arrays are garbage.
func (d *Decoder) Release(b *Batch) {
	if b == nil || cap(b.Events) > maxPooledEvents {
		return
	}
	d.batches.Put(b)
}

func (d *Decoder) newBatch() *Batch {
	if b, ok := d.batches.Get().(*Batch); ok {
		*b = Batch{Events: b.Events[:0], spans: b.spans[:0], fields: b.fields[:0], extents: b.extents[:0]}
		return b
	}
	return &Batch{}
}

// DecodeAgentBatch decodes the agent wire format, version 1:
// `{"resource":{…},"agent":{…},"events":[…]}`. The batch's strings may
// share memory with body: the caller must not modify body afterwards.
func (d *Decoder) DecodeAgentBatch(body []byte) (*Batch, error) {
	p := d.parsers.Get()
	defer d.parsers.Put(p)
	root, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("body is not json: %s", shortJSONError(err))
	}
	obj, err := root.Object()
	if err != nil {
		return nil, errors.New("body: must be a json object")
	}
	b := d.newBatch()
	st := newState(len(body), b)

	res := obj.Get("resource")
	if res == nil || res.Type() == fastjson.TypeNull {
		return nil, errors.New("resource: missing")
	}
	if b.Resource, err = st.resource(res); err != nil {
		return nil, err
	}
	if av := obj.Get("agent"); av != nil && av.Type() != fastjson.TypeNull {
		if b.Agent, err = st.agent(av); err != nil {
			return nil, err
		}
	}
	ev := obj.Get("events")
	if ev == nil || ev.Type() == fastjson.TypeNull {
		return nil, errors.New("events: missing")
	}
	arr, err := ev.Array()
	if err != nil {
		return nil, errors.New("events: must be an array")
	}
	if b.Events, err = st.events(arr); err != nil {
		return nil, err
	}
	st.fillRecords(body, true, arr, b.Events)
	b.spans, b.fields, b.extents = st.spans, st.fields, st.extents
	return b, nil
}

// DecodeEvents decodes a plain Telemetry API POST body: a JSON array of
// events, as Lambda delivers it to a subscriber. The batch's strings may
// share memory with body: the caller must not modify body afterwards.
func (d *Decoder) DecodeEvents(body []byte) (*Batch, error) {
	p := d.parsers.Get()
	defer d.parsers.Put(p)
	root, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("body is not json: %s", shortJSONError(err))
	}
	arr, err := root.Array()
	if err != nil {
		return nil, errors.New("body: must be a json array of telemetry events")
	}
	b := d.newBatch()
	st := newState(len(body), b)
	if b.Events, err = st.events(arr); err != nil {
		return nil, err
	}
	st.fillRecords(body, false, arr, b.Events)
	b.spans, b.fields, b.extents = st.spans, st.fields, st.extents
	return b, nil
}

// shortJSONError keeps fastjson's message (which quotes the tail of the
// input) to a readable length.
func shortJSONError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

var errEventNotObject = errors.New("must be an object")

// state is the per-batch arena: every string of a batch is appended to one
// byte slice, and every span and field to one slice each.
type state struct {
	arena  []byte
	spans  []Span
	fields []Field
	// eventBuf is a pooled array to decode into.
	eventBuf []Event
	extents  []extent
	// needRecords is set when a platform or unknown event needs its record JSON.
	needRecords bool
}

func newState(bodyLen int, b *Batch) *state {
	return &state{arena: make([]byte, 0, bodyLen), spans: b.spans, fields: b.fields, eventBuf: b.Events, extents: b.extents}
}

// str copies b into the arena. The arena is append-only, so strings made
// from it stay valid even after it grows into a new backing array.
func (st *state) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := len(st.arena)
	st.arena = append(st.arena, b...)
	return unsafe.String(&st.arena[start], len(b))
}

// fillRecords sets Record of platform and unknown events to their record's
// JSON exactly as sent, found by one scan of the body; MarshalTo is the
// fallback for what the scan does not locate (e.g. an escaped key).
func (st *state) fillRecords(body []byte, envelope bool, arr []*fastjson.Value, events []Event) {
	if !st.needRecords {
		return
	}
	exts, ok := recordExtents(body, envelope, st.extents[:0])
	st.extents = exts
	if !ok || len(exts) != len(events) {
		exts = nil
	}
	for i := range events {
		e := &events[i]
		if e.Type.IsLog() {
			continue
		}
		if exts != nil && exts[i].start >= 0 {
			// Not copied: the decoder owns body from now on (see DecodeEvents).
			e.Record = b2s(body[exts[i].start:exts[i].end])
			continue
		}
		e.Record = st.marshal(arr[i].Get("record"))
	}
}

func (st *state) marshal(v *fastjson.Value) string {
	start := len(st.arena)
	st.arena = v.MarshalTo(st.arena)
	if len(st.arena) == start {
		return ""
	}
	return unsafe.String(&st.arena[start], len(st.arena)-start)
}

func (st *state) resource(v *fastjson.Value) ([]Field, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("resource: must be an object")
	}
	fields := make([]Field, 0, o.Len())
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		f := Field{Key: st.str(k)}
		switch fv.Type() {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.str(fv.GetStringBytes())
		case fastjson.TypeNumber:
			f.Kind, f.Num = FieldNumber, fv.GetFloat64()
		case fastjson.TypeTrue, fastjson.TypeFalse:
			f.Kind, f.Bool = FieldBool, fv.GetBool()
		default:
			err = fmt.Errorf("resource.%q: must be a string, number or bool", f.Key)
			return
		}
		fields = append(fields, f)
	})
	return fields, err
}

func (st *state) agent(v *fastjson.Value) (*Agent, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("agent: must be an object")
	}
	a := &Agent{}
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "name", "version":
			if fv.Type() != fastjson.TypeString {
				err = fmt.Errorf("agent.%s: must be a string", k)
				return
			}
			if string(k) == "name" {
				a.Name = st.str(fv.GetStringBytes())
			} else {
				a.Version = st.str(fv.GetStringBytes())
			}
		case "seq":
			n, e := fv.Int64()
			if e != nil {
				err = errors.New("agent.seq: must be an integer")
				return
			}
			a.Seq, a.HasSeq = n, true
		default:
			if fv.Type() != fastjson.TypeNumber {
				// Non-numeric keys are reserved for later versions.
				return
			}
			f := fv.GetFloat64()
			if f < 0 || math.IsInf(f, 0) {
				err = fmt.Errorf("agent.%s: counter must be a non-negative number", k)
				return
			}
			a.Counters = append(a.Counters, Counter{Key: st.str(k), Value: f})
		}
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (st *state) events(arr []*fastjson.Value) ([]Event, error) {
	events := st.eventBuf[:0]
	if cap(events) < len(arr) {
		events = make([]Event, len(arr))
	} else {
		events = events[:len(arr)]
		clear(events)
	}
	for i, v := range arr {
		if err := st.event(&events[i], v); err != nil {
			if errors.Is(err, errEventNotObject) {
				return nil, fmt.Errorf("events[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("events[%d].%w", i, err)
		}
	}
	return events, nil
}

func (st *state) event(e *Event, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errEventNotObject
	}
	tv := o.Get("type")
	if tv == nil {
		return errors.New("type: missing")
	}
	tb, err := tv.StringBytes()
	if err != nil {
		return errors.New("type: must be a string")
	}
	e.Type = parseType(tb)
	if e.Type == TypeUnknown {
		e.TypeName = st.str(tb)
	} else {
		e.TypeName = e.Type.String()
	}
	timev := o.Get("time")
	if timev == nil {
		return errors.New("time: missing")
	}
	timeb, err := timev.StringBytes()
	if err != nil {
		return errors.New("time: must be a string")
	}
	if e.Time, err = parseTime(timeb); err != nil {
		return fmt.Errorf("time: %q is not an rfc 3339 timestamp", truncate(timeb))
	}
	rec := o.Get("record")
	if rec == nil {
		return errors.New("record: missing")
	}
	switch {
	case e.Type.IsLog():
		return st.logRecord(e, rec)
	case e.Type == TypeUnknown:
		st.needRecords = true
		return nil
	}
	ro, err := rec.Object()
	if err != nil {
		return errors.New("record: must be an object")
	}
	if err := st.platformRecord(e, ro); err != nil {
		return fmt.Errorf("record.%w", err)
	}
	st.needRecords = true
	switch e.Type {
	case TypePlatformStart, TypePlatformRuntimeDone, TypePlatformReport:
		if e.RequestID == "" {
			return errors.New("record.requestId: missing")
		}
	}
	return nil
}

func (st *state) platformRecord(e *Event, o *fastjson.Object) error {
	var err error
	o.Visit(func(k []byte, v *fastjson.Value) {
		if err != nil || v.Type() == fastjson.TypeNull {
			return
		}
		key := b2s(k)
		switch key {
		case "requestId":
			e.RequestID, err = st.stringField(key, v)
		case "status":
			e.Status, err = st.stringField(key, v)
		case "errorType":
			e.ErrorType, err = st.stringField(key, v)
		case "initializationType":
			e.InitializationType, err = st.stringField(key, v)
		case "phase":
			e.Phase, err = st.stringField(key, v)
		case "version":
			e.Version, err = st.stringField(key, v)
		case "runtimeVersion":
			e.RuntimeVersion, err = st.stringField(key, v)
		case "runtimeVersionArn":
			e.RuntimeVersionARN, err = st.stringField(key, v)
		case "functionName":
			e.FunctionName, err = st.stringField(key, v)
		case "functionVersion":
			e.FunctionVersion, err = st.stringField(key, v)
		case "instanceId":
			e.InstanceID, err = st.stringField(key, v)
		case "name":
			e.Name, err = st.stringField(key, v)
		case "state":
			e.State, err = st.stringField(key, v)
		case "reason":
			e.Reason, err = st.stringField(key, v)
		case "instanceMaxMemory":
			var f float64
			if f, err = numberField(key, v); err == nil {
				e.InstanceMaxMemory = int64(f)
			}
		case "droppedBytes":
			e.DroppedBytes, err = numberField(key, v)
		case "droppedRecords":
			e.DroppedRecords, err = numberField(key, v)
		case "metrics":
			err = metrics(&e.Metrics, v)
		case "spans":
			e.Spans, err = st.spanList(v)
		case "tracing":
			err = st.tracing(&e.Tracing, v)
		}
	})
	return err
}

func (st *state) stringField(key string, v *fastjson.Value) (string, error) {
	b, err := v.StringBytes()
	if err != nil {
		return "", fmt.Errorf("%s: must be a string", key)
	}
	return st.str(b), nil
}

func numberField(key string, v *fastjson.Value) (float64, error) {
	f, err := v.Float64()
	if err != nil {
		return 0, fmt.Errorf("%s: must be a number", key)
	}
	if f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s: must be a non-negative number", key)
	}
	return f, nil
}

func metrics(m *Metrics, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errors.New("metrics: must be an object")
	}
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil || fv.Type() == fastjson.TypeNull {
			return
		}
		var dst *float64
		var flag uint16
		switch b2s(k) {
		case "durationMs":
			dst, flag = &m.DurationMs, HasDurationMs
		case "billedDurationMs":
			dst, flag = &m.BilledDurationMs, HasBilledDurationMs
		case "memorySizeMB":
			dst, flag = &m.MemorySizeMB, HasMemorySizeMB
		case "maxMemoryUsedMB":
			dst, flag = &m.MaxMemoryUsedMB, HasMaxMemoryUsedMB
		case "initDurationMs":
			dst, flag = &m.InitDurationMs, HasInitDurationMs
		case "restoreDurationMs":
			dst, flag = &m.RestoreDurationMs, HasRestoreDurationMs
		case "billedRestoreDurationMs":
			dst, flag = &m.BilledRestoreDurationMs, HasBilledRestoreDurationMs
		case "producedBytes":
			dst, flag = &m.ProducedBytes, HasProducedBytes
		default:
			return
		}
		var f float64
		if f, err = numberField(b2s(k), fv); err != nil {
			err = fmt.Errorf("metrics.%w", err)
			return
		}
		*dst = f
		m.Has |= flag
	})
	return err
}

func (st *state) spanList(v *fastjson.Value) ([]Span, error) {
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("spans: must be an array")
	}
	first := len(st.spans)
	for i, sv := range arr {
		so, err := sv.Object()
		if err != nil {
			return nil, fmt.Errorf("spans[%d]: must be an object", i)
		}
		var s Span
		if nv := so.Get("name"); nv != nil {
			b, err := nv.StringBytes()
			if err != nil {
				return nil, fmt.Errorf("spans[%d].name: must be a string", i)
			}
			s.Name = st.str(b)
		}
		if s.Name == "" {
			return nil, fmt.Errorf("spans[%d].name: missing", i)
		}
		startv := so.Get("start")
		if startv == nil {
			return nil, fmt.Errorf("spans[%d].start: missing", i)
		}
		b, err := startv.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("spans[%d].start: must be a string", i)
		}
		if s.Start, err = parseTime(b); err != nil {
			return nil, fmt.Errorf("spans[%d].start: %q is not an rfc 3339 timestamp", i, truncate(b))
		}
		if dv := so.Get("durationMs"); dv != nil {
			if s.DurationMs, err = numberField("durationMs", dv); err != nil {
				return nil, fmt.Errorf("spans[%d].%w", i, err)
			}
		}
		st.spans = append(st.spans, s)
	}
	// A full slice expression, so that later appends never write into it.
	return st.spans[first:len(st.spans):len(st.spans)], nil
}

func (st *state) tracing(t *Tracing, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errors.New("tracing: must be an object")
	}
	t.Present = true
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil || fv.Type() == fastjson.TypeNull {
			return
		}
		switch b2s(k) {
		case "type":
			t.Type, err = st.stringField("tracing.type", fv)
		case "value":
			t.Value, err = st.stringField("tracing.value", fv)
		case "spanId":
			t.SpanID, err = st.stringField("tracing.spanId", fv)
		}
	})
	if err != nil {
		return err
	}
	if t.Type == xray.HeaderName || (t.Type == "" && t.Value != "") {
		if t.Header, err = xray.Parse(t.Value); err != nil {
			return fmt.Errorf("tracing.value: %w", err)
		}
	}
	if t.SpanID != "" {
		if _, err := xray.ParseSpanID(t.SpanID); err != nil {
			return fmt.Errorf("tracing.spanId: %w", err)
		}
	}
	return nil
}

func (st *state) logRecord(e *Event, rec *fastjson.Value) error {
	switch rec.Type() {
	case fastjson.TypeString:
		e.Message = st.str(rec.GetStringBytes())
		return nil
	case fastjson.TypeObject:
	default:
		return errors.New("record: must be a string or an object")
	}
	e.JSONLog = true
	o, _ := rec.Object()
	first := len(st.fields)
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch b2s(k) {
		case "message":
			if v.Type() == fastjson.TypeString {
				e.Message = st.str(v.GetStringBytes())
			} else {
				e.Message = st.marshal(v)
			}
			return
		case "level":
			if v.Type() == fastjson.TypeString {
				e.Level = st.str(v.GetStringBytes())
				return
			}
		case "requestId":
			if v.Type() == fastjson.TypeString {
				e.RequestID = st.str(v.GetStringBytes())
				return
			}
		case "timestamp":
			if v.Type() == fastjson.TypeString {
				if ts, err := parseTime(v.GetStringBytes()); err == nil {
					e.Timestamp = ts
					return
				}
			}
		}
		f := Field{Key: st.str(k)}
		switch v.Type() {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.str(v.GetStringBytes())
		case fastjson.TypeNumber:
			f.Kind, f.Num = FieldNumber, v.GetFloat64()
		case fastjson.TypeTrue, fastjson.TypeFalse:
			f.Kind, f.Bool = FieldBool, v.GetBool()
		default:
			f.Kind, f.Str = FieldJSON, st.marshal(v)
		}
		st.fields = append(st.fields, f)
	})
	if len(st.fields) > first {
		e.Fields = st.fields[first:len(st.fields):len(st.fields)]
	}
	return nil
}

// parseTime parses the Telemetry API's `YYYY-MM-DDTHH:MM:SS.mmmZ` without
// allocating (and without time.Date, which dominated decoding small log
// events) and falls back to RFC 3339 for anything else.
func parseTime(b []byte) (time.Time, error) {
	if len(b) == 24 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
		y, ok1 := digits(b[0:4])
		mo, ok2 := digits(b[5:7])
		d, ok3 := digits(b[8:10])
		h, ok4 := digits(b[11:13])
		mi, ok5 := digits(b[14:16])
		s, ok6 := digits(b[17:19])
		ms, ok7 := digits(b[20:23])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 &&
			mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h < 24 && mi < 60 && s < 60 {
			sec := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s)
			return time.Unix(sec, int64(ms)*int64(time.Millisecond)).UTC(), nil
		}
		return time.Time{}, errors.New("bad timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, b2s(b))
	if err != nil {
		return time.Time{}, errors.New("bad timestamp")
	}
	return t.UTC(), nil
}

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(m, y int) int {
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return monthDays[m]
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0: four digits
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// b2s views bytes as a string without copying: parser-owned bytes only for
// the duration of a call that does not retain them, or the caller's body,
// which it promises not to modify.
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func truncate(b []byte) string {
	const limit = 64
	if len(b) > limit {
		return string(b[:limit]) + "…"
	}
	return string(b)
}
