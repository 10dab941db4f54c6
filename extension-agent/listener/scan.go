package listener

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// maxDepth matches the receiver's parser (fastjson.MaxDepth): deeper bodies are refused here
// rather than by the collector.
const maxDepth = 300

// scanner validates JSON (RFC 8259 grammar; strict, so whatever it accepts the receiver's more
// lenient fastjson parser accepts too — FuzzScanAgreesWithFastjson checks that) in one pass.
// Unlike fastjson's validator it does not look at every byte of a string for control characters:
// strings are skipped with IndexByte, so a 300 KB log line costs about one memchr.
type scanner struct {
	b []byte
}

var errEnd = errors.New("unexpected end of body")

// errTooDeep marks a value nested deeper than maxDepth.
var errTooDeep = errors.New("nested too deep")

func (s *scanner) ws(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// events validates a top-level array of objects and calls each(event bytes, raw type) for every
// element; type is the raw value of the element's first top-level "type" key, nil unless a string.
func (s *scanner) events(each func(ev, typ []byte) error) error {
	i := s.ws(0)
	if i >= len(s.b) || s.b[i] != '[' {
		return errors.New("must be a JSON array of events")
	}
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return s.tail(i + 1)
	}
	for n := 0; ; n++ {
		if i >= len(s.b) {
			return errEnd
		}
		if s.b[i] != '{' {
			return fmt.Errorf("event %d: must be an object", n)
		}
		end, typ, err := s.object(i+1, 2, true)
		ev := s.b[i:end:end]
		if errors.Is(err, errTooDeep) {
			// Valid JSON that Lambda does send (a JSON-format log line is the function's own
			// object), but deeper than any parser downstream accepts: refusing the POST would make
			// Lambda drop the whole batch. Forward the record as a string of its exact text.
			ev, typ, end, err = s.deepEvent(i + 1)
		}
		if err != nil {
			return fmt.Errorf("event %d: %w", n, err)
		}
		if err := each(ev, typ); err != nil {
			return fmt.Errorf("event %d: %w", n, err)
		}
		i = s.ws(end)
		if i >= len(s.b) {
			return errEnd
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			return s.tail(i + 1)
		default:
			return fmt.Errorf("after event %d: unexpected %q", n, s.b[i])
		}
	}
}

func (s *scanner) tail(i int) error {
	if i = s.ws(i); i != len(s.b) {
		return errors.New("unexpected data after the array")
	}
	return nil
}

// value validates the value at b[i] and returns the index after it.
func (s *scanner) value(i, depth int) (int, error) {
	if i >= len(s.b) {
		return i, errEnd
	}
	switch c := s.b[i]; {
	case c == '{':
		end, _, err := s.object(i+1, depth+1, false)
		return end, err
	case c == '[':
		return s.array(i+1, depth+1)
	case c == '"':
		return s.str(i + 1)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	default:
		return i, fmt.Errorf("unexpected %q", c)
	}
}

// object validates an object whose '{' precedes b[i]. With wantType, it also returns the raw
// value of its first "type" key when that value is a string.
func (s *scanner) object(i, depth int, wantType bool) (end int, typ []byte, err error) {
	if depth > maxDepth {
		return i, nil, errTooDeep
	}
	i = s.ws(i)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, nil, nil
	}
	typeSeen := false
	for {
		if i >= len(s.b) {
			return i, nil, errEnd
		}
		if s.b[i] != '"' {
			return i, nil, fmt.Errorf("expected a key, got %q", s.b[i])
		}
		keyEnd, err := s.str(i + 1)
		if err != nil {
			return i, nil, err
		}
		// Only the first "type" counts, as in the receiver's parser (fastjson Get).
		isType := wantType && !typeSeen && string(s.b[i+1:keyEnd-1]) == "type"
		typeSeen = typeSeen || isType
		i = s.ws(keyEnd)
		if i >= len(s.b) || s.b[i] != ':' {
			return i, nil, errors.New("expected ':' after a key")
		}
		i = s.ws(i + 1)
		valEnd, err := s.value(i, depth)
		if err != nil {
			return i, nil, err
		}
		if isType && s.b[i] == '"' {
			typ = s.b[i+1 : valEnd-1 : valEnd-1]
		}
		i = s.ws(valEnd)
		if i >= len(s.b) {
			return i, nil, errEnd
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return i + 1, typ, nil
		default:
			return i, nil, fmt.Errorf("expected ',' or '}', got %q", s.b[i])
		}
	}
}

func (s *scanner) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	i = s.ws(i)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1, nil
	}
	for {
		end, err := s.value(i, depth)
		if err != nil {
			return i, err
		}
		i = s.ws(end)
		if i >= len(s.b) {
			return i, errEnd
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, fmt.Errorf("expected ',' or ']', got %q", s.b[i])
		}
	}
}

// str validates a string whose opening quote precedes b[i]; it returns the index after the
// closing quote.
func (s *scanner) str(i int) (int, error) {
	n := bytes.IndexByte(s.b[i:], '"')
	if n < 0 {
		return i, errors.New("unterminated string")
	}
	if bytes.IndexByte(s.b[i:i+n], '\\') < 0 {
		return i + n + 1, nil // the common case: no escapes
	}
	for j := i; ; {
		if j >= len(s.b) {
			return j, errors.New("unterminated string")
		}
		k := bytes.IndexAny(s.b[j:], "\"\\")
		if k < 0 {
			return j, errors.New("unterminated string")
		}
		j += k
		if s.b[j] == '"' {
			return j + 1, nil
		}
		if j+1 >= len(s.b) {
			return j, errors.New("unterminated string")
		}
		switch s.b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if j+6 > len(s.b) || !isHex4(s.b[j+2:j+6]) {
				return j, errors.New(`invalid \u escape`)
			}
			j += 6
		default:
			return j, fmt.Errorf("invalid escape \\%c", s.b[j+1])
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) literal(i int, lit string) (int, error) {
	if !bytes.HasPrefix(s.b[i:], []byte(lit)) {
		return i, errors.New("invalid literal")
	}
	return i + len(lit), nil
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) (int, error) {
	b := s.b
	digits := func(j int) int {
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j
	}
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return start, errors.New("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return start, errors.New("invalid number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return start, errors.New("invalid number")
		}
		i = j
	}
	return i, nil
}

// deepEvent handles an event whose '{' precedes b[i] and whose record nests deeper than maxDepth:
// it walks the event's own keys, skipping values without recursion, and returns a new event with
// the same time and type and, as record, a JSON string holding the record's exact text.
func (s *scanner) deepEvent(i int) (ev, typ []byte, end int, err error) {
	var timeRaw, typeRaw, recordRaw []byte
	i = s.ws(i)
	for {
		if i >= len(s.b) {
			return nil, nil, i, errEnd
		}
		if s.b[i] != '"' {
			return nil, nil, i, fmt.Errorf("expected a key, got %q", s.b[i])
		}
		keyEnd, err := s.str(i + 1)
		if err != nil {
			return nil, nil, i, err
		}
		key := string(s.b[i+1 : keyEnd-1])
		i = s.ws(keyEnd)
		if i >= len(s.b) || s.b[i] != ':' {
			return nil, nil, i, errors.New("expected ':' after a key")
		}
		i = s.ws(i + 1)
		valEnd, err := s.skip(i)
		if err != nil {
			return nil, nil, i, err
		}
		switch v := s.b[i:valEnd]; {
		case key == "time" && timeRaw == nil:
			timeRaw = v
		case key == "type" && typeRaw == nil:
			typeRaw = v
		case key == "record" && recordRaw == nil:
			recordRaw = v
		}
		i = s.ws(valEnd)
		if i >= len(s.b) {
			return nil, nil, i, errEnd
		}
		if s.b[i] == ',' {
			i = s.ws(i + 1)
			continue
		}
		if s.b[i] != '}' {
			return nil, nil, i, fmt.Errorf("expected ',' or '}', got %q", s.b[i])
		}
		end = i + 1
		break
	}
	if len(typeRaw) < 2 || typeRaw[0] != '"' {
		return nil, nil, end, errors.New("type must be a string")
	}
	out := []byte(`{`)
	if timeRaw != nil {
		out = append(append(append(out, `"time":`...), timeRaw...), ',')
	}
	out = append(append(out, `"type":`...), typeRaw...)
	if recordRaw != nil {
		text, _ := json.Marshal(string(recordRaw)) // a string cannot fail to encode
		out = append(append(out, `,"record":`...), text...)
	}
	out = append(out, '}')
	typeStart := bytes.Index(out, []byte(`"type":`)) + len(`"type":`) + 1
	return out, out[typeStart : typeStart+len(typeRaw)-2], end, nil
}

// skip returns the index after the value at b[i] without recursing: nesting is only counted, so
// any depth costs no stack. Strings are checked as usual; bracket kinds are not matched, which is
// harmless here because deepEvent forwards what it skips as a string.
func (s *scanner) skip(i int) (int, error) {
	depth := 0
	for i < len(s.b) {
		switch c := s.b[i]; c {
		case '"':
			end, err := s.str(i + 1)
			if err != nil {
				return i, err
			}
			if depth == 0 {
				return end, nil
			}
			i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return i, fmt.Errorf("unexpected %q", c)
			}
			if depth == 0 {
				return i + 1, nil
			}
		default:
			if depth == 0 {
				return s.value(i, 0) // a scalar
			}
		}
		i++
	}
	return i, errEnd
}
