package telemetryevent

import (
	"bytes"
	"errors"
	"strings"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Zero-copy views into fastjson's parser: the per-batch arena, and strings that point into the
// body instead of being copied, guarded by checks that fastjson's layout is the one expected.

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
	// plainText is set (by the caller of newState, which must stay small enough to inline for
	// the state to stay on the stack) when the body holds no backslash at all: no key or string needs
	// unescaping, and the per-object check of the keys is skipped. Platform batches are such
	// bodies, and one scan of the whole body costs less than the scans of its keys one by one.
	plainText bool
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
func (st *state) visit(o *fastjson.Object, f func(k []byte, v *fastjson.Value)) {
	if !objectsOK || o == nil {
		o.Visit(f)
		return
	}
	m := (*objectMirror)(unsafe.Pointer(o))
	if !m.keysUnescaped {
		if !st.plainText && keysEscaped(m.kvs) {
			o.Visit(f)
			return
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
func (st *state) members(o *fastjson.Object) []kvMirror {
	if !objectsOK {
		var kvs []kvMirror
		o.Visit(func(k []byte, v *fastjson.Value) { kvs = append(kvs, kvMirror{string(k), v}) })
		return kvs
	}
	m := (*objectMirror)(unsafe.Pointer(o))
	if !m.keysUnescaped {
		if !st.plainText && keysEscaped(m.kvs) {
			o.Visit(func([]byte, *fastjson.Value) {}) // unescapes the keys
			return m.kvs
		}
		m.keysUnescaped = true
	}
	return m.kvs
}

// keysEscaped says whether any raw key holds a backslash, i.e. needs fastjson to unescape it.
// strings.IndexByte, not a loop over the bytes: every object of every event passes here, and the
// loop was 7 % of decoding a platform batch.
func keysEscaped(kvs []kvMirror) bool {
	for i := range kvs {
		if strings.IndexByte(kvs[i].k, '\\') >= 0 {
			return true
		}
	}
	return false
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
	// In a plain body the scan of the whole body already answered, and a long message would
	// otherwise be scanned twice.
	if !st.plainText && bytes.IndexByte(raw, '\\') >= 0 {
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
		if raw := st.body[off:end]; st.plainText || bytes.IndexByte(raw, '\\') < 0 {
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

// arenaChunk is the most the arena grows by at once (but for one longer string).
const arenaChunk = 16 << 10

// reserve makes room for n bytes in the arena. A full arena is replaced by
// a new one (strings keep the old one alive); as unescaped strings are
// never longer than their raw text, what is left of the body from the
// parser-owned bytes b on bounds what the rest of the batch needs. The
// arena grows in chunks of at most arenaChunk rather than at once to that
// bound: a body is mostly log lines with escapes (\t, \n) but not all of
// it, so one arena of the rest of the body was ≈ 25 % larger than what was
// used, and as a large object (> 32 KiB) each came from the page heap,
// cleared in full and returned to the OS by the scavenger, a cost per
// request; chunks are small objects.
func (st *state) reserve(n int, b []byte) {
	if cap(st.arena)-len(st.arena) >= n {
		return
	}
	size := max(64, n)
	if off := st.offset(b); off >= 0 {
		size = max(size, min(len(st.body)-off, arenaChunk))
	}
	st.arena = make([]byte, 0, size)
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
