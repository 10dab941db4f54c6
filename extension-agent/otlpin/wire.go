package otlpin

import (
	"errors"
	"fmt"
)

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

// validateProto checks that body is a well-formed Export*ServiceRequest without decoding it: every
// field of the request and of each resource_* entry (field 1, the only field OTLP defines at the
// top) has a valid tag, a well-formed varint or a length inside the body. That is what answering
// 400 instead of 200 needs; the collector decodes the rest with pdata and drops (and counts) what
// still does not decode there. Deeper checks would cost a decoder in the agent's binary.
func validateProto(body []byte, resourceField string) error {
	return walk(body, func(num uint64, typ int, val []byte) error {
		if num != 1 {
			return nil // unknown fields are legal protobuf; pdata skips them too
		}
		if typ != wireLen {
			return fmt.Errorf("%s: wire type %d, want length-delimited", resourceField, typ)
		}
		if err := walk(val, nil); err != nil {
			return fmt.Errorf("%s: %w", resourceField, err)
		}
		return nil
	})
}

var errTruncated = errors.New("truncated")

// walk iterates over the fields of one message; each (may be nil) sees field number, wire type and,
// for length-delimited fields, the value.
func walk(b []byte, each func(num uint64, typ int, val []byte) error) error {
	for i := 0; i < len(b); {
		key, n := varint(b[i:])
		if n <= 0 {
			return fmt.Errorf("byte %d: bad field tag: %w", i, errTruncated)
		}
		i += n
		num, typ := key>>3, int(key&7)
		if num == 0 {
			return fmt.Errorf("byte %d: field number 0", i-n)
		}
		var val []byte
		switch typ {
		case wireVarint:
			_, m := varint(b[i:])
			if m <= 0 {
				return fmt.Errorf("field %d: bad varint", num)
			}
			i += m
		case wireI64:
			if len(b)-i < 8 {
				return fmt.Errorf("field %d: %w", num, errTruncated)
			}
			i += 8
		case wireI32:
			if len(b)-i < 4 {
				return fmt.Errorf("field %d: %w", num, errTruncated)
			}
			i += 4
		case wireLen:
			l, m := varint(b[i:])
			if m <= 0 {
				return fmt.Errorf("field %d: bad length", num)
			}
			i += m
			if l > uint64(len(b)-i) {
				return fmt.Errorf("field %d: length %d beyond the body: %w", num, l, errTruncated)
			}
			val = b[i : i+int(l)]
			i += int(l)
		case 3:
			// A group (deprecated, unused by OTLP): pdata skips it as an unknown field up to its
			// end marker. Not worth a parser here: the rest is left to the collector's decoder.
			return nil
		case 4:
		default:
			return fmt.Errorf("field %d: invalid wire type %d", num, typ)
		}
		if each != nil {
			if err := each(num, typ, val); err != nil {
				return err
			}
		}
	}
	return nil
}

// varint decodes a base-128 varint; n is 0 when b ends first, -1 when it is longer than 10 bytes.
func varint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b); i++ {
		if i == 10 {
			return 0, -1
		}
		c := b[i]
		// A 10th byte above 1 overflows 64 bits; protobuf decoders (pdata's too) drop the excess
		// bits rather than fail, and so does this walk.
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// appendVarint appends v as a varint.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
