// Package xray converts between the AWS X-Ray trace header that Lambda puts in
// the Telemetry API `tracing.value` field (and in `Lambda-Runtime-Trace-Id`)
// and OpenTelemetry trace identifiers.
//
// The header is `Root=1-{8 hex epoch}-{24 hex};Parent={16 hex};Sampled={0|1|?}`
// plus optional keys (Lineage, Self, …) that are ignored. The OTel trace id is
// the 8 and 24 hex digits joined; the span id is Parent.
package xray

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// HeaderName is the HTTP header (and Telemetry API `tracing.type`) that carries the value.
const HeaderName = "X-Amzn-Trace-Id"

// Sampling is the X-Ray sampling decision. It has three wire values plus
// "absent", which callers must be able to tell apart from "not sampled".
type Sampling uint8

const (
	// SamplingAbsent means the header had no Sampled key.
	SamplingAbsent Sampling = iota
	// SamplingNo is `Sampled=0`.
	SamplingNo
	// SamplingYes is `Sampled=1`.
	SamplingYes
	// SamplingRequested is `Sampled=?`: the caller asks the receiver to decide.
	SamplingRequested
)

// Header is a parsed X-Ray trace header.
type Header struct {
	// TraceID is the Root id without its version and dashes.
	TraceID pcommon.TraceID
	// ParentID is the Parent span id; empty when the header had no Parent.
	ParentID pcommon.SpanID
	// Sampling is the Sampled decision.
	Sampling Sampling
}

// Sampled reports whether the trace was sampled (`Sampled=1`); it maps to the
// W3C trace flag 01.
func (h Header) Sampled() bool { return h.Sampling == SamplingYes }

// Errors returned by Parse; callers may match them with errors.Is.
var (
	ErrEmpty       = errors.New("empty trace header")
	ErrMissingRoot = errors.New("missing root")
)

// Parse parses an X-Ray trace header. Keys are case-insensitive, parts are
// separated by ';' and may be padded with spaces, unknown keys are ignored.
// Root is required; Parent and Sampled are optional. It never allocates on
// success.
func Parse(s string) (Header, error) {
	if h, ok := parseCanonical(s); ok {
		return h, nil
	}
	return parseGeneral(s)
}

// canonicalLen is the length of the form Lambda itself writes, in this key order and case.
const canonicalLen = len("Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1")

// parseCanonical reads the header in the one form Lambda writes into every Telemetry event, at
// fixed offsets: the general parser's splitting, trimming and case folding were a tenth of
// decoding a platform batch. The ids are read by the general parser's own readers. It reports
// false for anything else, valid or not, and the general parser then decides (and words the
// error).
func parseCanonical(s string) (Header, bool) {
	if len(s) != canonicalLen || s[:5] != "Root=" || s[40:48] != ";Parent=" || s[64:73] != ";Sampled=" {
		return Header{}, false
	}
	root, err := parseRoot(s[5:40])
	if err != nil {
		return Header{}, false
	}
	parent, err := ParseSpanID(s[48:64])
	if err != nil {
		return Header{}, false
	}
	sampling, ok := samplingOf(s[73:])
	if !ok {
		return Header{}, false
	}
	return Header{TraceID: root, ParentID: parent, Sampling: sampling}, true
}

// samplingOf maps a Sampled value to its decision; false when it is none of 0, 1 and ?.
func samplingOf(v string) (Sampling, bool) {
	switch v {
	case "0":
		return SamplingNo, true
	case "1":
		return SamplingYes, true
	case "?":
		return SamplingRequested, true
	}
	return SamplingAbsent, false
}

// parseGeneral parses any valid header: keys in any order and case, padding, unknown keys.
func parseGeneral(s string) (Header, error) {
	var h Header
	if strings.TrimSpace(s) == "" {
		return h, ErrEmpty
	}
	var haveRoot, haveParent, haveSampled bool
	rest := s
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ";")
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return Header{}, fmt.Errorf("trace header part %q: missing '='", truncate(part))
		}
		key = strings.TrimSpace(key)
		val = strings.TrimSpace(val)
		switch {
		case strings.EqualFold(key, "Root"):
			if haveRoot {
				return Header{}, errors.New("root: duplicate key")
			}
			id, err := parseRoot(val)
			if err != nil {
				return Header{}, err
			}
			h.TraceID, haveRoot = id, true
		case strings.EqualFold(key, "Parent"):
			if haveParent {
				return Header{}, errors.New("parent: duplicate key")
			}
			id, err := ParseSpanID(val)
			if err != nil {
				return Header{}, fmt.Errorf("parent: %w", err)
			}
			h.ParentID, haveParent = id, true
		case strings.EqualFold(key, "Sampled"):
			if haveSampled {
				return Header{}, errors.New("sampled: duplicate key")
			}
			var ok bool
			if h.Sampling, ok = samplingOf(val); !ok {
				return Header{}, fmt.Errorf("sampled: %q is not 0, 1 or ?", truncate(val))
			}
			haveSampled = true
		}
	}
	if !haveRoot {
		return Header{}, ErrMissingRoot
	}
	return h, nil
}

// parseRoot parses `1-{8 hex}-{24 hex}`.
func parseRoot(v string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	// "1-" + 8 + "-" + 24
	if len(v) != 35 {
		return id, fmt.Errorf("root: %q is not 1-<8 hex>-<24 hex>", truncate(v))
	}
	if v[0] != '1' || v[1] != '-' {
		return id, fmt.Errorf("root: unsupported version in %q (want 1)", v)
	}
	if v[10] != '-' {
		return id, fmt.Errorf("root: %q is not 1-<8 hex>-<24 hex>", v)
	}
	if _, err := hex.Decode(id[:4], []byte(v[2:10])); err != nil {
		return pcommon.TraceID{}, fmt.Errorf("root: epoch %q is not hex", v[2:10])
	}
	if _, err := hex.Decode(id[4:], []byte(v[11:])); err != nil {
		return pcommon.TraceID{}, fmt.Errorf("root: id %q is not hex", v[11:])
	}
	if id.IsEmpty() {
		return pcommon.TraceID{}, errors.New("root: all-zero trace id")
	}
	return id, nil
}

// ParseSpanID parses 16 hex digits into a span id; the Telemetry API
// `tracing.spanId` field uses the same form.
func ParseSpanID(v string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if len(v) != 16 {
		return id, fmt.Errorf("span id %q is not 16 hex digits", truncate(v))
	}
	if _, err := hex.Decode(id[:], []byte(v)); err != nil {
		return pcommon.SpanID{}, fmt.Errorf("span id %q is not hex", v)
	}
	if id.IsEmpty() {
		return pcommon.SpanID{}, errors.New("span id is all zero")
	}
	return id, nil
}

// String formats the header in the X-Ray form Lambda uses. Parent and
// Sampled are omitted when absent.
func (h Header) String() string {
	var b strings.Builder
	b.Grow(len("Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=1"))
	var tid [32]byte
	hex.Encode(tid[:], h.TraceID[:])
	b.WriteString("Root=1-")
	b.Write(tid[:8])
	b.WriteByte('-')
	b.Write(tid[8:])
	if !h.ParentID.IsEmpty() {
		var sid [16]byte
		hex.Encode(sid[:], h.ParentID[:])
		b.WriteString(";Parent=")
		b.Write(sid[:])
	}
	switch h.Sampling {
	case SamplingNo:
		b.WriteString(";Sampled=0")
	case SamplingYes:
		b.WriteString(";Sampled=1")
	case SamplingRequested:
		b.WriteString(";Sampled=?")
	}
	return b.String()
}

// TraceParent formats the W3C traceparent equivalent (version 00). Without a
// Parent there is no valid traceparent and it returns "".
func (h Header) TraceParent() string {
	if h.ParentID.IsEmpty() || h.TraceID.IsEmpty() {
		return ""
	}
	flags := "00"
	if h.Sampled() {
		flags = "01"
	}
	return "00-" + hex.EncodeToString(h.TraceID[:]) + "-" + hex.EncodeToString(h.ParentID[:]) + "-" + flags
}

// truncate keeps error messages about hostile input short.
func truncate(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
