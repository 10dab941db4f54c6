package telemetry

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/clock/clocktest"
)

// logRecords runs write against a LogWriter whose events reach a real consumer and returns the
// records it received, as raw JSON.
func logRecords(t *testing.T, kind, format string, cfg Config, write func(w interface {
	Write([]byte) (int, error)
	Close() error
})) []wireEvent {
	t.Helper()
	c := newConsumer(t, nil)
	h := newTestHub(t, cfg)
	if err := h.Subscribe("ext", subscribeBody(c.port(), `"function","extension"`, "")); err != nil {
		t.Fatal(err)
	}
	h.CloseSubscriptions()
	write(h.LogWriter(kind, format))
	flush(t, h)
	return c.events()
}

func stringRecords(t *testing.T, evs []wireEvent) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		var s string
		if err := json.Unmarshal(e.Record, &s); err != nil {
			t.Fatalf("record %s is not a string", e.Record)
		}
		out = append(out, s)
	}
	return out
}

func TestLogWriterTextPartialLines(t *testing.T) {
	evs := logRecords(t, "function", "Text", Config{}, func(w interface {
		Write([]byte) (int, error)
		Close() error
	}) {
		for _, chunk := range []string{"hel", "lo\nwor", "ld\r\n", "\n", "a\nb\nc", "-tail"} {
			if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
				t.Fatalf("write %q = %d, %v", chunk, n, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
		if _, err := w.Write([]byte("x\n")); err == nil {
			t.Error("write after close succeeded")
		}
	})
	if got := types(evs); !slices.Equal(got, []string{"function", "function", "function", "function", "function", "function"}) {
		t.Fatalf("types %v", got)
	}
	if got, want := stringRecords(t, evs), []string{"hello", "world", "", "a", "b", "c-tail"}; !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

func TestLogWriterSplitsLongLines(t *testing.T) {
	// "é" is two bytes: put one across the MaxLogLine boundary to check it is not cut in half.
	long := strings.Repeat("a", MaxLogLine-1) + "é" + strings.Repeat("z", 10)
	evs := logRecords(t, "extension", "Text", Config{}, func(w interface {
		Write([]byte) (int, error)
		Close() error
	}) {
		// In small pieces, so the split happens while buffering a partial line.
		for i := 0; i < len(long); i += 4096 {
			w.Write([]byte(long[i:min(i+4096, len(long))]))
		}
		w.Write([]byte("\n" + long + "\n"))
		w.Close()
	})
	got := stringRecords(t, evs)
	want := []string{long[:MaxLogLine-1], long[MaxLogLine-1:], long[:MaxLogLine-1], long[MaxLogLine-1:]}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
	if evs[0].Type != "extension" {
		t.Errorf("type %s", evs[0].Type)
	}
}

func TestLogWriterJSON(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	cfg := Config{Clock: clocktest.NewClock(now), CurrentRequestID: func() string { return "req-1" }}
	evs := logRecords(t, "function", "JSON", cfg, func(w interface {
		Write([]byte) (int, error)
		Close() error
	}) {
		w.Write([]byte(`{"timestamp":"t","level":"ERROR","message":"structured","extra":{"k":1}}` + "\n"))
		w.Write([]byte("plain text\n"))
		w.Write([]byte(`{"not":"closed"` + "\n"))
		w.Write([]byte(`["array"]` + "\n"))
	})
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	if got := string(evs[0].Record); got != `{"timestamp":"t","level":"ERROR","message":"structured","extra":{"k":1}}` {
		t.Errorf("a JSON object line must be the record as is, got %s", got)
	}
	for i, msg := range []string{"plain text", `{"not":"closed"`, `["array"]`} {
		var rec jsonLogRecord
		if err := json.Unmarshal(evs[i+1].Record, &rec); err != nil {
			t.Fatalf("record %s: %v", evs[i+1].Record, err)
		}
		want := jsonLogRecord{Timestamp: "2024-01-02T03:04:05.006Z", Level: "INFO", RequestID: "req-1", Message: msg}
		if rec != want {
			t.Errorf("wrapped %+v, want %+v", rec, want)
		}
	}
	if evs[0].Time != "2024-01-02T03:04:05.006Z" {
		t.Errorf("event time %s", evs[0].Time)
	}
}

func TestLogWriterUnknownKind(t *testing.T) {
	h := newTestHub(t, Config{})
	w := h.LogWriter("runtime", "Text")
	if _, err := w.Write([]byte("x\n")); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("write to an unknown kind = %v, want an error naming the kind", err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
}

// FuzzLogWriter checks that however output is chunked, the records are its lines.
func FuzzLogWriter(f *testing.F) {
	f.Add([]byte("a\nbc\n\nd"), uint8(1), false)
	f.Add([]byte("{\"a\":1}\nnot json\n{"), uint8(3), true)
	f.Add([]byte("x\r\ny\xff\n"), uint8(7), false)
	f.Fuzz(func(t *testing.T, out []byte, chunk uint8, jsonFormat bool) {
		var got []Event
		h := NewHub(Config{})
		defer h.Close(t.Context())
		w := &logWriter{h: h, kind: "function", json: jsonFormat, emitTo: func(e Event) { got = append(got, e) }}
		step := int(chunk)%16 + 1
		for i := 0; i < len(out); i += step {
			if _, err := w.Write(out[i:min(i+step, len(out))]); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		lines := strings.Split(string(out), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if len(got) != len(lines) {
			t.Fatalf("%d records for %d lines", len(got), len(lines))
		}
		for i, line := range lines {
			line = strings.TrimSuffix(line, "\r")
			b, err := got[i].MarshalJSON()
			if err != nil {
				t.Fatalf("record %d does not encode: %v", i, err)
			}
			if !json.Valid(b) {
				t.Fatalf("invalid event %s", b)
			}
			switch r := got[i].Record.(type) {
			case string:
				if jsonFormat || r != line {
					t.Fatalf("record %q for line %q", r, line)
				}
			case json.RawMessage:
				if !jsonFormat || string(r) != line {
					t.Fatalf("raw record %s for line %q", r, line)
				}
			case jsonLogRecord:
				if !jsonFormat || r.Message != line {
					t.Fatalf("wrapped %+v for line %q", r, line)
				}
			default:
				t.Fatalf("record type %T", r)
			}
		}
	})
}
