package xray

import (
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseLambdaExample(t *testing.T) {
	// The example of docs/lambda-apis.md, "X-Ray trace header".
	h, err := Parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	if err != nil {
		t.Fatal(err)
	}
	want := Header{
		TraceID:  pcommon.TraceID{0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9, 0x94, 0x27, 0x27, 0x93},
		ParentID: pcommon.SpanID{0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8},
		Sampling: SamplingYes,
	}
	if h != want {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	if got, w := h.TraceParent(), "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"; got != w {
		t.Fatalf("traceparent %q, want %q", got, w)
	}
	if !h.Sampled() {
		t.Fatal("sampled = false")
	}
}

func TestParseVariants(t *testing.T) {
	tests := []struct {
		name, in string
		want     Header
	}{
		{"root only", "Root=1-5759e988-bd862e3fe1be46a994272793",
			Header{TraceID: mustTrace("5759e988bd862e3fe1be46a994272793")}},
		{"unknown keys, spaces, case, order", " sampled=0 ; Lineage=a87bd80c:1|68fd508a:5 ;Parent=53995C3F42CD8AD8; root=1-5759E988-BD862E3FE1BE46A994272793;Self=x;",
			Header{TraceID: mustTrace("5759e988bd862e3fe1be46a994272793"), ParentID: mustSpan("53995c3f42cd8ad8"), Sampling: SamplingNo}},
		{"sampling requested", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
			Header{TraceID: mustTrace("5759e988bd862e3fe1be46a994272793"), Sampling: SamplingRequested}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"", "empty trace header"},
		{"   ", "empty trace header"},
		{"Parent=53995c3f42cd8ad8;Sampled=1", "missing root"},
		{"Root", `trace header part "Root": missing '='`},
		{"Root=2-5759e988-bd862e3fe1be46a994272793", "root: unsupported version"},
		{"Root=1-5759e988-bd862e3fe1be46a99427279", "root: "},
		{"Root=1-5759e98g-bd862e3fe1be46a994272793", "root: epoch"},
		{"Root=1-5759e988-bd862e3fe1be46a99427279z", "root: id"},
		{"Root=1-5759e988xbd862e3fe1be46a994272793", "root: "},
		{"Root=1-00000000-000000000000000000000000", "root: all-zero trace id"},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c", "parent: span id"},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000", "parent: span id is all zero"},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8adz", "parent: span id"},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes", `sampled: "yes" is not 0, 1 or ?`},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793", "root: duplicate key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
	if _, err := Parse(""); !errors.Is(err, ErrEmpty) {
		t.Fatalf("want ErrEmpty, got %v", err)
	}
	if _, err := Parse("Sampled=1"); !errors.Is(err, ErrMissingRoot) {
		t.Fatalf("want ErrMissingRoot, got %v", err)
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, in := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
		"Root=1-5759e988-bd862e3fe1be46a994272793",
	} {
		h, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.String(); got != in {
			t.Fatalf("String() = %q, want %q", got, in)
		}
	}
	if got := (Header{TraceID: mustTrace("5759e988bd862e3fe1be46a994272793")}).TraceParent(); got != "" {
		t.Fatalf("traceparent without parent = %q, want empty", got)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	const in = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(in) }); n != 0 {
		t.Fatalf("Parse allocates %v times", n)
	}
}

func TestParseCanonicalForm(t *testing.T) {
	for _, tc := range []struct {
		in     string
		fast   bool // read by the fixed-offset reader
		wantOK bool
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", true, true},
		{"Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=?", true, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0", true, true},
		// Valid but not the canonical form: the general parser reads them.
		{"root=1-5759e988-bd862e3fe1be46a994272793;parent=53995c3f42cd8ad8;sampled=1", false, true},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1", false, true},
		{"Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", false, true},
		// Canonical shape, invalid content: the general parser words the error.
		{"Root=1-5759e988-bd862e3fe1be46a99427279g;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1", false, false},
		{"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8;Sampled=1", false, false},
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=2", false, false},
	} {
		fast, ok := parseCanonical(tc.in)
		if ok != tc.fast {
			t.Errorf("parseCanonical(%q) ok = %v, want %v", tc.in, ok, tc.fast)
		}
		general, err := parseGeneral(tc.in)
		if (err == nil) != tc.wantOK {
			t.Errorf("parseGeneral(%q) error = %v, want ok %v", tc.in, err, tc.wantOK)
		}
		if ok && fast != general {
			t.Errorf("%q: canonical reader %+v, general parser %+v", tc.in, fast, general)
		}
		if got, err := Parse(tc.in); (err == nil) != tc.wantOK || (err == nil && got != general) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, general, tc.wantOK)
		}
	}
}

// BenchmarkParse compares the header as Lambda writes it with the same header in another key order,
// which takes the general parser.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"canonical", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
		{"general", "Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		"Root=1-5759e988-bd862e3fe1be46a994272793",
		"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1;Lineage=a:1",
		";;=;Root=",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if err.Error() == "" || err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Fatalf("error not lower-case: %q", err)
			}
			return
		}
		// The fixed-offset reader agrees with the general parser whenever it accepts.
		if fast, ok := parseCanonical(s); ok && fast != h {
			t.Fatalf("canonical reader of %q: got %+v, general parser %+v", s, fast, h)
		}
		// A parsed header formats to a canonical form that parses back to the same ids.
		again, err := Parse(h.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", h.String(), err)
		}
		if again != h {
			t.Fatalf("round trip %q: got %+v, want %+v", s, again, h)
		}
	})
}

func mustTrace(s string) pcommon.TraceID {
	h, err := Parse("Root=1-" + s[:8] + "-" + s[8:])
	if err != nil {
		panic(err)
	}
	return h.TraceID
}

func mustSpan(s string) pcommon.SpanID {
	id, err := ParseSpanID(s)
	if err != nil {
		panic(err)
	}
	return id
}
