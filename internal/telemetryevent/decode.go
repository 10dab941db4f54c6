package telemetryevent

import (
	"bytes"
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
// the caller no longer reads b (strings taken from it stay valid: they live in
// the body or in a separate arena). Optional; without it the arrays are garbage.
func (d *Decoder) Release(b *Batch) {
	if b == nil || cap(b.Events) > maxPooledEvents {
		return
	}
	d.batches.Put(b)
}

func (d *Decoder) newBatch() *Batch {
	if b, ok := d.batches.Get().(*Batch); ok {
		*b = Batch{Events: b.Events[:0], spans: b.spans[:0], fields: b.fields[:0], extents: b.extents[:0], positions: b.positions[:0]}
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
	st := newState(body, p, b)

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
	b.spans, b.fields, b.extents, b.positions = st.spans, st.fields, st.extents, st.positions
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
	st := newState(body, p, b)
	// The body is a valid JSON array: its last byte but white space is ']'.
	if j := skipWSBack(body, len(body)-1); j > 0 && body[j] == ']' {
		st.arrayEnd = j
	}
	if b.Events, err = st.events(arr); err != nil {
		return nil, err
	}
	st.fillRecords(body, false, arr, b.Events)
	b.spans, b.fields, b.extents, b.positions = st.spans, st.fields, st.extents, st.positions
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
	eventBuf  []Event
	extents   []extent
	positions []evPos
	dates     dateCache
	// arrayEnd is the offset of the ']' closing the events array when
	// known, else 0.
	arrayEnd int
	// needRecords is set when a platform or unknown event needs its record JSON.
	needRecords bool

	// body is the request body when strings can be views into it: the
	// parser's working copy (base, pbLen) holds every string at the offset
	// it has in body (minus lead, the leading white space the parser
	// skipped), unescaped in place.
	body  []byte
	base  uintptr
	pbLen int
	lead  int
}

// evPos locates an event's keys in the body, so that a record's extent
// can be found without rescanning the body: offsets of the content of the
// event's first key and of its "record" key (-1: unknown), and whether
// "record" was the event's last key.
type evPos struct {
	firstKey, recKey int
	recLast          bool
}

func newState(body []byte, p *fastjson.Parser, b *Batch) *state {
	st := &state{spans: b.spans, fields: b.fields, eventBuf: b.Events, extents: b.extents, positions: b.positions[:0]}
	if viewsOK {
		pb := parserBuf(p)
		if len(pb) > 0 && len(pb) <= len(body) {
			st.body, st.base, st.pbLen, st.lead = body, uintptr(unsafe.Pointer(&pb[0])), len(pb), len(body)-len(pb)
		}
	}
	return st
}

// parserBuf is the fastjson.Parser's working copy of the input (its first
// field, `b []byte`, in v1.6.x). viewsOK is false, and strings are copied,
// if the layout ever stops matching.
func parserBuf(p *fastjson.Parser) []byte { return *(*[]byte)(unsafe.Pointer(p)) }

var viewsOK = func() bool {
	var p fastjson.Parser
	v, err := p.Parse(` ["ab\\n","xyz"]`)
	if err != nil {
		return false
	}
	pb := parserBuf(&p)
	a := v.GetArray()
	if len(pb) != 15 || len(a) != 2 || string(a[1].GetStringBytes()) != "xyz" {
		return false
	}
	return uintptr(unsafe.Pointer(&a[1].GetStringBytes()[0]))-uintptr(unsafe.Pointer(&pb[0])) == 10 &&
		uintptr(unsafe.Pointer(&a[0].GetStringBytes()[0]))-uintptr(unsafe.Pointer(&pb[0])) == 2
}()

// objectMirror is fastjson.Object's layout in v1.6.x. fastjson's Visit and
// Get scan every key for escapes with a call to strings.IndexByte each time
// an object is first read, which cost a tenth of decoding; visit does the
// same check inline. objectsOK is false, and visit is Object.Visit, if the
// layout ever stops matching.
type objectMirror struct {
	kvs           []kvMirror
	keysUnescaped bool
}

type kvMirror struct {
	k string
	v *fastjson.Value
}

var objectsOK = func() bool {
	var p fastjson.Parser
	v, err := p.Parse(`{"a":1,"b\u0063":2}`)
	if err != nil {
		return false
	}
	o, err := v.Object()
	if err != nil || unsafe.Sizeof(*o) != unsafe.Sizeof(objectMirror{}) {
		return false
	}
	m := (*objectMirror)(unsafe.Pointer(o))
	if len(m.kvs) != 2 || m.keysUnescaped || m.kvs[0].k != "a" || m.kvs[1].k != `b\u0063` || m.kvs[0].v.GetInt() != 1 {
		return false
	}
	return o.Get("bc") == m.kvs[1].v && m.keysUnescaped && m.kvs[1].k == "bc"
}()

// visit is o.Visit(f) without a function call per key to find escapes.
func visit(o *fastjson.Object, f func(k []byte, v *fastjson.Value)) {
	if !objectsOK || o == nil {
		o.Visit(f)
		return
	}
	m := (*objectMirror)(unsafe.Pointer(o))
	if !m.keysUnescaped {
		for i := range m.kvs {
			k := m.kvs[i].k
			for j := 0; j < len(k); j++ {
				if k[j] == '\\' {
					o.Visit(f)
					return
				}
			}
		}
		// What Object.unescapeKeys would conclude.
		m.keysUnescaped = true
	}
	for i := range m.kvs {
		kv := &m.kvs[i]
		f(unsafe.Slice(unsafe.StringData(kv.k), len(kv.k)), kv.v)
	}
}

// members returns o's keys (unescaped, as by Visit) and values in wire
// order: loops over it avoid Visit's call of a closure per key.
func members(o *fastjson.Object) []kvMirror {
	if !objectsOK {
		var kvs []kvMirror
		o.Visit(func(k []byte, v *fastjson.Value) { kvs = append(kvs, kvMirror{string(k), v}) })
		return kvs
	}
	m := (*objectMirror)(unsafe.Pointer(o))
	if !m.keysUnescaped {
		for i := range m.kvs {
			k := m.kvs[i].k
			for j := 0; j < len(k); j++ {
				if k[j] == '\\' {
					o.Visit(func([]byte, *fastjson.Value) {}) // unescapes the keys
					return m.kvs
				}
			}
		}
		m.keysUnescaped = true
	}
	return m.kvs
}

// valueMirror is fastjson.Value's layout in v1.6.x. fastjson keeps a
// string value as its raw text (typeRawString) until it is first read, and
// then unescapes it in place; strValue instead reads the raw text and, if
// it has escapes, unescapes it straight into the arena: one pass instead
// of unescaping and then copying. valuesOK is false, and strings are read
// through GetStringBytes, if the layout ever stops matching.
type valueMirror struct {
	o objectMirror
	a []*fastjson.Value
	s string
	t fastjson.Type
}

const typeRawString fastjson.Type = 7

var valuesOK = objectsOK && func() bool {
	var p fastjson.Parser
	v, err := p.Parse(`["a\\nb",1]`)
	if err != nil || unsafe.Sizeof(*v) != unsafe.Sizeof(valueMirror{}) {
		return false
	}
	a := v.GetArray()
	if len(a) != 2 {
		return false
	}
	m := (*valueMirror)(unsafe.Pointer(a[0]))
	if m.t != typeRawString || m.s != `a\\nb` || len(m.a) != 0 || (*valueMirror)(unsafe.Pointer(a[1])).s != "1" {
		return false
	}
	return a[0].Type() == fastjson.TypeString && m.t == fastjson.TypeString && m.s == `a\nb`
}()

// kind is v.Type() without unescaping a string.
func kind(v *fastjson.Value) fastjson.Type {
	if valuesOK && (*valueMirror)(unsafe.Pointer(v)).t == typeRawString {
		return fastjson.TypeString
	}
	return v.Type()
}

// strValue returns the string value v (kind TypeString) as a string that
// stays valid (see str).
func (st *state) strValue(v *fastjson.Value) string {
	if !valuesOK {
		return st.str(v.GetStringBytes())
	}
	m := (*valueMirror)(unsafe.Pointer(v))
	if m.t != typeRawString {
		return st.str(v.GetStringBytes())
	}
	if len(m.s) == 0 {
		return ""
	}
	raw := unsafe.Slice(unsafe.StringData(m.s), len(m.s))
	if bytes.IndexByte(raw, '\\') >= 0 {
		st.reserve(len(raw), raw)
		start := len(st.arena)
		st.arena = appendUnescaped(st.arena, m.s)
		return unsafe.String(&st.arena[start], len(st.arena)-start)
	}
	if off := st.offset(raw); off >= 0 {
		return b2s(st.body[off : off+len(raw)])
	}
	return st.copyStr(raw)
}

// offset returns the offset in body of parser-owned bytes b, or -1.
func (st *state) offset(b []byte) int {
	if st.body == nil || len(b) == 0 {
		return -1
	}
	off := uintptr(unsafe.Pointer(&b[0])) - st.base
	if off >= uintptr(st.pbLen) || uintptr(len(b)) > uintptr(st.pbLen)-off {
		return -1
	}
	return int(off) + st.lead
}

// str returns b, a parser-owned string, as a string that stays valid: a
// view into the body when the string had no escapes (so its bytes there
// are the same), else a copy in the arena. The arena is append-only, so
// strings made from it stay valid even after it grows into a new backing
// array.
func (st *state) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if off := st.offset(b); off >= 0 {
		// The string's raw text starts at off. If an unescaped quote follows
		// its len(b) bytes, that quote closes it: the raw text is b as is.
		end := off + len(b)
		if end < len(st.body) && st.body[end] == '"' && st.body[end-1] != '\\' {
			return b2s(st.body[off:end])
		}
		if raw := st.body[off:end]; bytes.IndexByte(raw, '\\') < 0 {
			return b2s(raw)
		}
	}
	return st.copyStr(b)
}

func (st *state) copyStr(b []byte) string {
	st.reserve(len(b), b)
	start := len(st.arena)
	st.arena = append(st.arena, b...)
	return unsafe.String(&st.arena[start], len(b))
}

// reserve makes room for n bytes in the arena. A full arena is replaced by
// a new one (strings keep the old one alive); as unescaped strings are
// never longer than their raw text, what is left of the body from the
// parser-owned bytes b on bounds what the rest of the batch needs.
func (st *state) reserve(n int, b []byte) {
	if cap(st.arena)-len(st.arena) >= n {
		return
	}
	size := max(64, n)
	if off := st.offset(b); off >= 0 {
		size = max(size, len(st.body)-off)
	}
	st.arena = make([]byte, 0, size)
}

// fillRecords sets Record of platform and unknown events to their record's
// JSON exactly as sent. Each record is located from the offsets of its
// event's keys (the parser's strings are views of the body); a scan of the
// whole body, then MarshalTo, are the fallbacks for what that does not
// locate (e.g. an escaped key).
func (st *state) fillRecords(body []byte, envelope bool, arr []*fastjson.Value, events []Event) {
	if !st.needRecords {
		return
	}
	var exts []extent
	scanned := false
	for i := range events {
		e := &events[i]
		if e.Type.IsLog() {
			continue
		}
		if st.body != nil && len(st.positions) == len(events) {
			if s, t := st.recordAt(i); s >= 0 {
				// Not copied: the decoder owns body from now on (see DecodeEvents).
				e.Record = b2s(body[s:t])
				continue
			}
		}
		if !scanned {
			scanned = true
			var ok bool
			exts, ok = recordExtents(body, envelope, st.extents[:0])
			st.extents = exts
			if !ok || len(exts) != len(events) {
				exts = nil
			}
		}
		if exts != nil && exts[i].start >= 0 {
			e.Record = b2s(body[exts[i].start:exts[i].end])
			continue
		}
		e.Record = st.marshal(arr[i].Get("record"))
	}
}

// recordAt returns the extent in st.body of event i's record, or -1.
func (st *state) recordAt(i int) (int, int) {
	b, pos := st.body, st.positions[i]
	k := pos.recKey
	if k < 1 || k+7 > len(b) || b[k-1] != '"' || string(b[k:k+7]) != `record"` {
		return -1, -1
	}
	j := skipWS(b, k+7)
	if j >= len(b) || b[j] != ':' {
		return -1, -1
	}
	start := skipWS(b, j+1)
	if pos.recLast && i+1 < len(st.positions) && st.positions[i+1].firstKey > start {
		// The body is valid JSON: between this record and the next event's
		// first key there is only `} , {"` and white space.
		j = st.positions[i+1].firstKey - 2 // before the key's quote
		j = skipWSBack(b, j)
		if j <= start || b[j] != '{' {
			return -1, -1
		}
		j = skipWSBack(b, j-1)
		if j <= start || b[j] != ',' {
			return -1, -1
		}
		j = skipWSBack(b, j-1)
		if j <= start || b[j] != '}' {
			return -1, -1
		}
		j = skipWSBack(b, j-1)
		if j < start {
			return -1, -1
		}
		return start, j + 1
	}
	if pos.recLast && i+1 == len(st.positions) && st.arrayEnd > start {
		// The last event: only `} ]` and white space follow its record.
		j = skipWSBack(b, st.arrayEnd-1)
		if j <= start || b[j] != '}' {
			return -1, -1
		}
		if j = skipWSBack(b, j-1); j < start {
			return -1, -1
		}
		return start, j + 1
	}
	end := skipValue(b, start)
	if end <= start {
		return -1, -1
	}
	return start, end
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
	visit(o, func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		f := Field{Key: st.str(k)}
		switch kind(fv) {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.strValue(fv)
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
	visit(o, func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "name", "version":
			if kind(fv) != fastjson.TypeString {
				err = fmt.Errorf("agent.%s: must be a string", k)
				return
			}
			if string(k) == "name" {
				a.Name = st.strValue(fv)
			} else {
				a.Version = st.strValue(fv)
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
	// One pass over the keys (the first of each wins, as with Get), noting
	// where the keys are for fillRecords.
	var tv, timev, rec *fastjson.Value
	pos := evPos{firstKey: -1, recKey: -1}
	kvs := members(o)
	recIdx := -1
	for n := range kvs {
		kv := &kvs[n]
		switch kv.k {
		case "type":
			if tv == nil {
				tv = kv.v
			}
		case "time":
			if timev == nil {
				timev = kv.v
			}
		case "record":
			if rec == nil {
				rec, recIdx = kv.v, n
				pos.recKey = st.offset(s2b(kv.k))
			}
		}
	}
	if len(kvs) > 0 {
		pos.firstKey = st.offset(s2b(kvs[0].k))
	}
	pos.recLast = recIdx == len(kvs)-1
	st.positions = append(st.positions, pos)
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
	if timev == nil {
		return errors.New("time: missing")
	}
	timeb, err := timev.StringBytes()
	if err != nil {
		return errors.New("time: must be a string")
	}
	if e.Time, err = st.dates.parse(timeb); err != nil {
		return fmt.Errorf("time: %q is not an rfc 3339 timestamp", truncate(timeb))
	}
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
	for _, kv := range members(o) {
		v := kv.v
		if kind(v) == fastjson.TypeNull {
			continue
		}
		key := kv.k
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
		if err != nil {
			return err
		}
	}
	return nil
}

func (st *state) stringField(key string, v *fastjson.Value) (string, error) {
	if kind(v) != fastjson.TypeString {
		return "", fmt.Errorf("%s: must be a string", key)
	}
	return st.strValue(v), nil
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
	for _, kv := range members(o) {
		fv := kv.v
		if kind(fv) == fastjson.TypeNull {
			continue
		}
		var dst *float64
		var flag uint16
		switch kv.k {
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
			continue
		}
		f, err := numberField(kv.k, fv)
		if err != nil {
			return fmt.Errorf("metrics.%w", err)
		}
		*dst = f
		m.Has |= flag
	}
	return nil
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
		// One pass over the keys; the first of each wins, as with Get.
		var nv, startv, dv *fastjson.Value
		visit(so, func(k []byte, v *fastjson.Value) {
			switch b2s(k) {
			case "name":
				if nv == nil {
					nv = v
				}
			case "start":
				if startv == nil {
					startv = v
				}
			case "durationMs":
				if dv == nil {
					dv = v
				}
			}
		})
		if nv != nil {
			if kind(nv) != fastjson.TypeString {
				return nil, fmt.Errorf("spans[%d].name: must be a string", i)
			}
			s.Name = st.strValue(nv)
		}
		if s.Name == "" {
			return nil, fmt.Errorf("spans[%d].name: missing", i)
		}
		if startv == nil {
			return nil, fmt.Errorf("spans[%d].start: missing", i)
		}
		b, err := startv.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("spans[%d].start: must be a string", i)
		}
		if s.Start, err = st.dates.parse(b); err != nil {
			return nil, fmt.Errorf("spans[%d].start: %q is not an rfc 3339 timestamp", i, truncate(b))
		}
		if dv != nil {
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
	for _, kv := range members(o) {
		fv := kv.v
		if kind(fv) == fastjson.TypeNull {
			continue
		}
		switch kv.k {
		case "type":
			t.Type, err = st.stringField("tracing.type", fv)
		case "value":
			t.Value, err = st.stringField("tracing.value", fv)
		case "spanId":
			t.SpanID, err = st.stringField("tracing.spanId", fv)
		}
		if err != nil {
			return err
		}
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
	switch kind(rec) {
	case fastjson.TypeString:
		e.Message = st.strValue(rec)
		return nil
	case fastjson.TypeObject:
	default:
		return errors.New("record: must be a string or an object")
	}
	e.JSONLog = true
	o, _ := rec.Object()
	first := len(st.fields)
	visit(o, func(k []byte, v *fastjson.Value) {
		switch b2s(k) {
		case "message":
			if kind(v) == fastjson.TypeString {
				e.Message = st.strValue(v)
			} else {
				e.Message = st.marshal(v)
			}
			return
		case "level":
			if kind(v) == fastjson.TypeString {
				e.Level = st.strValue(v)
				return
			}
		case "requestId":
			if kind(v) == fastjson.TypeString {
				e.RequestID = st.strValue(v)
				return
			}
		case "timestamp":
			if v.Type() == fastjson.TypeString {
				if ts, err := st.dates.parse(v.GetStringBytes()); err == nil {
					e.Timestamp = ts
					return
				}
			}
		}
		f := Field{Key: st.str(k)}
		switch kind(v) {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.strValue(v)
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

// dateCache remembers the last date parseTime saw: the timestamps of a
// batch are seconds apart, so most share it and only the time of day is
// left to parse.
type dateCache struct {
	ymd  [10]byte
	days int64
	ok   bool
}

func (c *dateCache) parse(b []byte) (time.Time, error) {
	if len(b) != 24 || !c.ok || string(b[:10]) != string(c.ymd[:]) ||
		b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[23] != 'Z' {
		t, err := parseTime(b)
		if err == nil && len(b) == 24 && b[23] == 'Z' && b[10] == 'T' {
			// The fast path of parseTime took it: remember the date.
			// A UTC time ('Z'): its day is the date written.
			u := t.Unix()
			days := u / 86400
			if u%86400 < 0 {
				days--
			}
			copy(c.ymd[:], b[:10])
			c.days, c.ok = days, true
		}
		return t, err
	}
	var bad byte
	for _, i := range [...]int{11, 12, 14, 15, 17, 18, 20, 21, 22} {
		if b[i]-'0' > 9 {
			bad = 1
		}
	}
	d := func(i int) int { return int(b[i] - '0') }
	h, mi, sec := d(11)*10+d(12), d(14)*10+d(15), d(17)*10+d(18)
	if bad != 0 || h >= 24 || mi >= 60 || sec >= 60 {
		return time.Time{}, errors.New("bad timestamp")
	}
	ms := d(20)*100 + d(21)*10 + d(22)
	return time.Unix(c.days*86400+int64(h*3600+mi*60+sec), int64(ms)*int64(time.Millisecond)).UTC(), nil
}

// parseTime parses the Telemetry API's `YYYY-MM-DDTHH:MM:SS.mmmZ` without
// allocating (and without time.Date, which dominated decoding small log
// events) and falls back to RFC 3339 for anything else.
func parseTime(b []byte) (time.Time, error) {
	if len(b) == 24 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' &&
		b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
		// Unsigned, so that bytes below '0' wrap around to large values.
		var bad byte
		for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22} {
			if b[i]-'0' > 9 {
				bad = 1
			}
		}
		d := func(i int) int { return int(b[i] - '0') }
		y := d(0)*1000 + d(1)*100 + d(2)*10 + d(3)
		mo, dd := d(5)*10+d(6), d(8)*10+d(9)
		h, mi, sec := d(11)*10+d(12), d(14)*10+d(15), d(17)*10+d(18)
		ms := d(20)*100 + d(21)*10 + d(22)
		if bad == 0 && mo >= 1 && mo <= 12 && dd >= 1 && dd <= daysIn(mo, y) && h < 24 && mi < 60 && sec < 60 {
			unix := daysFromCivil(y, mo, dd)*86400 + int64(h*3600+mi*60+sec)
			return time.Unix(unix, int64(ms)*int64(time.Millisecond)).UTC(), nil
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

// b2s views bytes as a string without copying: parser-owned bytes only for
// the duration of a call that does not retain them, or the caller's body,
// which it promises not to modify.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

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
