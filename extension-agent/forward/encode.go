package forward

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
)

// counters are the agent's own cumulative counters, sent with every batch (the "agent" object).
type counters struct {
	seq           atomic.Uint64
	received      atomic.Uint64
	forwarded     atomic.Uint64
	spooled       atomic.Uint64
	replayed      atomic.Uint64
	dropped       atomic.Uint64
	batchesSent   atomic.Uint64
	batchesFailed atomic.Uint64
	flushMicros   atomic.Uint64
	flushes       atomic.Uint64
	otlpReceived  atomic.Uint64
	otlpRejected  atomic.Uint64
}

// Stats is a snapshot of the counters.
type Stats struct {
	Seq             uint64
	EventsReceived  uint64 // accepted by the listener
	EventsForwarded uint64 // acknowledged by the collector straight from memory
	EventsSpooled   uint64 // written to the spool
	EventsReplayed  uint64 // acknowledged by the collector from the spool (this or an earlier agent's)
	EventsDropped   uint64 // lost for good: overflow beyond the spool, permanent rejections
	BatchesSent     uint64
	BatchesFailed   uint64 // failed attempts, retried or not
	FlushMillisSum  float64
	FlushCount      uint64
	// OTLPReceived counts OTLP payloads accepted from the SDK; each is also one item in the Events*
	// counters, which count everything a batch carries.
	OTLPReceived uint64
	// OTLPRejected counts OTLP requests answered with an error status (lost at the SDK's side).
	OTLPRejected uint64
}

// Stats returns the counters.
func (f *Forwarder) Stats() Stats {
	c := &f.c
	return Stats{
		Seq:             c.seq.Load(),
		EventsReceived:  c.received.Load(),
		EventsForwarded: c.forwarded.Load(),
		EventsSpooled:   c.spooled.Load(),
		EventsReplayed:  c.replayed.Load(),
		EventsDropped:   c.dropped.Load(),
		BatchesSent:     c.batchesSent.Load(),
		BatchesFailed:   c.batchesFailed.Load(),
		FlushMillisSum:  float64(c.flushMicros.Load()) / 1000,
		FlushCount:      c.flushes.Load(),
		OTLPReceived:    c.otlpReceived.Load(),
		OTLPRejected:    c.otlpRejected.Load(),
	}
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// encode renders a batch in wire format v2 (v1 plus the "otlp" array), with the counters as they
// are now. A batch is encoded
// once (see encoded): retries resend the same bytes under the same seq.
func (f *Forwarder) encode(b *batch) (body []byte, gz bool, err error) {
	res := *f.resource.Load()
	s := f.Stats()
	buf := make([]byte, 0, b.bytes+len(b.events)+len(res)+400)
	buf = append(buf, `{"resource":`...)
	buf = append(buf, res...)
	buf = append(buf, `,"agent":{"name":"azlens-agent","version":`...)
	buf = strconv.AppendQuote(buf, f.opt.Version) // versions are ASCII: Go and JSON quoting agree
	buf = appendUint(buf, "seq", b.seq)
	if b.tracked {
		// Request ids come from Lambda's JSON: quote them as JSON, not as Go.
		q, err := json.Marshal(b.active)
		if err != nil {
			return nil, false, err
		}
		buf = append(buf, `,"active":`...)
		buf = append(buf, q...)
	}
	buf = appendUint(buf, "events_received", s.EventsReceived)
	buf = appendUint(buf, "events_forwarded", s.EventsForwarded)
	buf = appendUint(buf, "events_spooled", s.EventsSpooled)
	buf = appendUint(buf, "events_replayed", s.EventsReplayed)
	buf = appendUint(buf, "events_dropped", s.EventsDropped)
	buf = appendUint(buf, "batches_sent", s.BatchesSent)
	buf = appendUint(buf, "batches_failed", s.BatchesFailed)
	buf = append(buf, `,"flush_duration_ms_sum":`...)
	buf = strconv.AppendFloat(buf, s.FlushMillisSum, 'f', 3, 64)
	buf = appendUint(buf, "flush_count", s.FlushCount)
	buf = appendUint(buf, "otlp_received", s.OTLPReceived)
	buf = appendUint(buf, "otlp_rejected", s.OTLPRejected)
	buf = append(buf, `},"events":[`...)
	n, otlp := 0, 0
	for _, e := range b.events {
		if isOTLP(e) {
			otlp++
			continue
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e...)
		n++
	}
	buf = append(buf, ']')
	if otlp > 0 {
		buf = append(buf, `,"otlp":[`...)
		n = 0
		for _, e := range b.events {
			if !isOTLP(e) {
				continue
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, e[1:]...)
			n++
		}
		buf = append(buf, ']')
	}
	buf = append(buf, '}')
	if !f.opt.Gzip {
		return buf, false, nil
	}
	var out bytes.Buffer
	out.Grow(len(buf)/4 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&out)
	if _, err := w.Write(buf); err != nil {
		return nil, false, err
	}
	if err := w.Close(); err != nil {
		return nil, false, err
	}
	return out.Bytes(), true, nil
}

func appendUint(buf []byte, key string, v uint64) []byte {
	buf = append(buf, ',', '"')
	buf = append(buf, key...)
	buf = append(buf, '"', ':')
	return strconv.AppendUint(buf, v, 10)
}

// otlpMark starts an OTLP item among a batch's events: JSON never starts with a NUL byte, so the
// items share the batch's queue, order, bounds and accounting without a second list.
const otlpMark = 0

func isOTLP(item []byte) bool { return len(item) > 0 && item[0] == otlpMark }

// otlpItem renders one OTLP payload as an element of v2's "otlp" array:
// {"signal":"traces","encoding":"protobuf","body":"<base64>"} or, for OTLP/JSON (validated by
// the endpoint), {"signal":…,"encoding":"json","body":{…}} with the request's object as is.
func otlpItem(signal, encoding string, body []byte) []byte {
	n := len(body) + 64
	if encoding != "json" {
		n = base64.StdEncoding.EncodedLen(len(body)) + 64
	}
	b := make([]byte, 1, n)
	b[0] = otlpMark
	b = append(b, `{"signal":`...)
	b = strconv.AppendQuote(b, signal)
	b = append(b, `,"encoding":`...)
	b = strconv.AppendQuote(b, encoding)
	b = append(b, `,"body":`...)
	if encoding == "json" {
		b = append(b, body...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, body)
		b = append(b, '"')
	}
	return append(b, '}')
}
