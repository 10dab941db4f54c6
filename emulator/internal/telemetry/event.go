package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Event is one Telemetry API event as the platform generates it.
type Event struct {
	// Time is when the platform generated the event; zero means Config.Now() at Emit.
	Time time.Time
	// Type is "platform.<name>", "function" or "extension".
	Type string
	// Record is the event body: a struct or map (a JSON object), a string (a text log line), or a
	// json.RawMessage holding a JSON object that is sent as is.
	Record any
}

// timeLayout is the envelope's time format: UTC with millisecond precision, as Lambda sends it.
const timeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON encodes the Telemetry API envelope {"time","type","record"}.
func (e Event) MarshalJSON() ([]byte, error) {
	return appendEvent(nil, e)
}

// appendEvent appends the envelope of e to b. It is the single encoder of events: Emit encodes each
// event once and every subscriber shares the bytes.
func appendEvent(b []byte, e Event) ([]byte, error) {
	b = append(b, `{"time":"`...)
	b = appendTime(b, e.Time)
	b = append(b, `","type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"record":`...)
	switch r := e.Record.(type) {
	case nil:
		b = append(b, "null"...)
	case string:
		b = appendString(b, r)
	case json.RawMessage:
		// Compact both validates (a bad raw record must not corrupt a whole batch) and keeps a
		// record on one line, which TCP (NDJSON) delivery relies on.
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, r); err != nil {
			return nil, fmt.Errorf("encode %s record: %w", e.Type, err)
		}
		b = buf.Bytes()
	default:
		rec, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode %s record: %w", e.Type, err)
		}
		b = append(b, rec...)
	}
	return append(b, '}'), nil
}

// appendTime appends t in timeLayout. Hand-rolled because time.AppendFormat interprets its layout
// on every call and this runs once per event.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Log lines are the bulk of the traffic, so this avoids
// encoding/json's reflection and allocation; invalid UTF-8 becomes U+FFFD so the batch stays valid
// JSON whatever a function prints.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers; encoding/json escapes
		// them too.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// category is the subscription type an event belongs to, as a bit so a subscription's types are a
// mask.
type category uint8

const (
	catPlatform category = 1 << iota
	catFunction
	catExtension
)

func categoryOf(eventType string) category {
	switch eventType {
	case "function":
		return catFunction
	case "extension":
		return catExtension
	default:
		return catPlatform
	}
}
