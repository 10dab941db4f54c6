package telemetryevent

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Raw record extents. Re-serialising each platform record with fastjson's
// MarshalTo cost a third of decoding a platform event; instead one pass
// over the (already validated) body finds each event's `record` value so
// it can be copied verbatim. The scanner relies on the body being valid
// JSON and gives up (ok=false) on anything unexpected; callers then fall
// back to MarshalTo.

type extent struct{ start, end int }

// structural marks the bytes that matter when skipping a nested value.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// recordExtents appends, per element of the events array, the extent of
// its first "record" value ({-1,-1} when it has none). envelope selects the
// agent format (the array under the top-level "events" key) over a plain
// array.
func recordExtents(b []byte, envelope bool, dst []extent) ([]extent, bool) {
	i := skipWS(b, 0)
	if envelope {
		var ok bool
		if i, ok = findKey(b, i, "events"); !ok {
			return dst, false
		}
	}
	if i >= len(b) || b[i] != '[' {
		return dst, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return dst, true
	}
	for i < len(b) {
		if b[i] != '{' {
			return dst, false
		}
		ext := extent{-1, -1}
		i = skipWS(b, i+1)
		for i < len(b) && b[i] != '}' {
			if b[i] != '"' {
				return dst, false
			}
			ks := i + 1
			i = skipString(b, i)
			if i < 0 {
				return dst, false
			}
			key := b[ks : i-1]
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return dst, false
			}
			vs := skipWS(b, i+1)
			if i = skipValue(b, vs); i < 0 {
				return dst, false
			}
			if ext.start < 0 && string(key) == "record" {
				ext = extent{vs, i}
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
			}
		}
		if i >= len(b) {
			return dst, false
		}
		dst = append(dst, ext)
		i = skipWS(b, i+1) // past '}'
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return dst, true
		}
		return dst, false
	}
	return dst, false
}

// findKey positions after the ':' of key in the object starting at i.
func findKey(b []byte, i int, key string) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	for i < len(b) && b[i] == '"' {
		ks := i + 1
		if i = skipString(b, i); i < 0 {
			return 0, false
		}
		k := b[ks : i-1]
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		vs := skipWS(b, i+1)
		if string(k) == key {
			return vs, true
		}
		if i = skipValue(b, vs); i < 0 {
			return 0, false
		}
		i = skipWS(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return 0, false
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipWSBack returns the index of the last non-white-space byte at or
// before i, or -1.
func skipWSBack(b []byte, i int) int {
	for i >= 0 && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i--
	}
	return i
}

// skipString returns the index after the closing quote of the string
// opening at b[i], or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		// The quote is escaped when preceded by an odd number of backslashes.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			// Jump over bytes that cannot change the nesting.
			for i < len(b) && !structural[b[i]] {
				i++
			}
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	// Number or literal.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return i
		}
		i++
	}
	return i
}

// appendUnescaped appends the JSON string text s (without quotes)
// unescaped to dst, exactly as fastjson's unescapeStringBestEffort does in
// place (invalid escapes are kept as they are).
func appendUnescaped(dst []byte, s string) []byte {
	n := strings.IndexByte(s, '\\')
	if n < 0 {
		return append(dst, s...)
	}
	dst = append(dst, s[:n]...)
	s = s[n+1:]
	for len(s) > 0 {
		ch := s[0]
		s = s[1:]
		switch ch {
		case '"':
			dst = append(dst, '"')
		case '\\':
			dst = append(dst, '\\')
		case '/':
			dst = append(dst, '/')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if len(s) < 4 {
				dst = append(dst, "\\u"...)
				break
			}
			xs := s[:4]
			x, err := strconv.ParseUint(xs, 16, 16)
			if err != nil {
				dst = append(dst, "\\u"...)
				break
			}
			s = s[4:]
			if !utf16.IsSurrogate(rune(x)) {
				dst = utf8.AppendRune(dst, rune(x))
				break
			}
			if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
				dst = append(dst, "\\u"...)
				dst = append(dst, xs...)
				break
			}
			x1, err := strconv.ParseUint(s[2:6], 16, 16)
			if err != nil {
				dst = append(dst, "\\u"...)
				dst = append(dst, xs...)
				break
			}
			dst = utf8.AppendRune(dst, utf16.DecodeRune(rune(x), rune(x1)))
			s = s[6:]
		default:
			dst = append(dst, '\\', ch)
		}
		n = strings.IndexByte(s, '\\')
		if n < 0 {
			dst = append(dst, s...)
			break
		}
		dst = append(dst, s[:n]...)
		s = s[n+1:]
	}
	return dst
}
