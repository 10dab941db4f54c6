package telemetryevent

import (
	"unsafe"

	"github.com/valyala/fastjson"
)

// The raw JSON of each record, kept as sent for events the receiver forwards verbatim.

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
