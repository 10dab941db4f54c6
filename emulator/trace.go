package emulator

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"
)

// newTraceHeader makes an X-Ray trace header the way Lambda does for an untraced request:
// Root=1-<8 hex epoch seconds>-<24 hex random>;Parent=<16 hex random>;Sampled=0|1.
func newTraceHeader(now time.Time, sampled bool) string {
	var raw [4 + 12 + 8]byte
	binary.BigEndian.PutUint32(raw[0:4], uint32(now.Unix()))
	binary.LittleEndian.PutUint64(raw[4:12], rand.Uint64())
	binary.LittleEndian.PutUint32(raw[12:16], rand.Uint32())
	binary.LittleEndian.PutUint64(raw[16:24], nonZero64())
	var b [len("Root=1-") + 8 + 1 + 24 + len(";Parent=") + 16 + len(";Sampled=0")]byte
	n := copy(b[:], "Root=1-")
	hex.Encode(b[n:], raw[0:4])
	n += 8
	b[n] = '-'
	n++
	hex.Encode(b[n:], raw[4:16])
	n += 24
	n += copy(b[n:], ";Parent=")
	hex.Encode(b[n:], raw[16:24])
	n += 16
	n += copy(b[n:], ";Sampled=")
	if sampled {
		b[n] = '1'
	} else {
		b[n] = '0'
	}
	return string(b[:])
}

// newSpanID is a random non-zero 16-hex-digit span id.
func newSpanID() string {
	var raw [8]byte
	binary.LittleEndian.PutUint64(raw[:], nonZero64())
	return hex.EncodeToString(raw[:])
}

func nonZero64() uint64 {
	for {
		if v := rand.Uint64(); v != 0 {
			return v
		}
	}
}

// traceSampled reports whether an X-Ray header carries Sampled=1. Only the flag matters here; the
// full parser lives in internal/xray.
func traceSampled(h string) bool {
	for h != "" {
		var kv string
		kv, h, _ = strings.Cut(h, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k == "Sampled" {
			return v == "1"
		}
	}
	return false
}

// newRequestID is a random (version 4) UUID.
func newRequestID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:16], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:16])
	return string(b[:])
}

// isUUID reports whether s has the 8-4-4-4-12 hex form of a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func randFloat() float64 { return rand.Float64() }
