package telemetryevent

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/valyala/fastjson"
)

// Decoding entry points: the two body formats the receiver takes, and the pooled batches they
// fill.

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
	st.plainText = bytes.IndexByte(body, '\\') < 0

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
	st.plainText = bytes.IndexByte(body, '\\') < 0
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
