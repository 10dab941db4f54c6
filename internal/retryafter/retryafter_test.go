package retryafter

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"3", 3 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999999", 0, false}, // overflows uint64: unusable
		{"86400", Max, true},
		{"Thu, 26 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Thu, 26 Nov 2026 11:59:00 GMT", 0, false}, // in the past
		{"Fri, 27 Nov 2026 12:00:00 GMT", Max, true},
		{"Thursday, 26-Nov-26 12:00:05 GMT", 5 * time.Second, true}, // RFC 850, obsolete but allowed
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse: whatever a server sends, the delay is usable or refused, never
// negative, zero-but-ok or beyond Max.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "0", "3", " 7 ", "-1", "1.5", "86400", "Thu, 26 Nov 2026 12:00:30 GMT", "\xff", "99999999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := Parse(v, now)
		if ok && (d <= 0 || d > Max) {
			t.Fatalf("Parse(%q) = %v, ok, out of (0, %v]", v, d, Max)
		}
		if !ok && d != 0 {
			t.Fatalf("Parse(%q) = %v, not ok, want 0", v, d)
		}
	})
}
