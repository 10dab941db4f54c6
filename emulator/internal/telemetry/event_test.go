package telemetry

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"
	"unicode/utf8"
)

// TestEnvelopeMatchesSamples re-encodes the sample events of the AWS announcement (a copy of
// emulator/internal/telemetry/testdata/telemetry-samples.json) and expects the same JSON.
func TestEnvelopeMatchesSamples(t *testing.T) {
	raw, err := os.ReadFile("testdata/telemetry-samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var samples []wireEvent
	if err := json.Unmarshal(raw, &samples); err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, s := range samples {
		ts, err := time.Parse(time.RFC3339Nano, s.Time)
		if err != nil {
			t.Fatal(err)
		}
		got := mustEncode(t, Event{Time: ts, Type: s.Type, Record: s.Record})
		var want, have any
		_ = json.Unmarshal(mustMarshal(t, s), &want)
		if err := json.Unmarshal(got, &have); err != nil {
			t.Fatalf("%s: invalid json %s", s.Type, got)
		}
		if !jsonEqual(want, have) {
			t.Errorf("%s:\n got %s\nwant %s", s.Type, got, mustMarshal(t, s))
		}
	}
}

func TestEnvelopeTime(t *testing.T) {
	loc := time.FixedZone("x", 2*3600)
	e := Event{Time: time.Date(2022, 8, 2, 14, 1, 23, 521_999_999, loc), Type: "function", Record: "hi"}
	want := `{"time":"2022-08-02T12:01:23.521Z","type":"function","record":"hi"}`
	if got := string(mustEncode(t, e)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// A zero Time in Emit is stamped with Config.Now; in MarshalJSON it is encoded as given.
	b, _ := json.Marshal(Event{Type: "platform.start", Record: map[string]string{"requestId": "r"}})
	if !bytes.Contains(b, []byte(`"record":{"requestId":"r"}`)) {
		t.Errorf("struct record: %s", b)
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := (Event{Type: "function", Record: json.RawMessage(`{"a":`)}).MarshalJSON(); err == nil {
		t.Error("invalid raw record accepted")
	}
	if _, err := (Event{Type: "platform.x", Record: map[string]any{"c": make(chan int)}}).MarshalJSON(); err == nil {
		t.Error("unencodable record accepted")
	}
	logs := newLogCapture()
	h := NewHub(Config{Logger: logs.logger()})
	defer h.Close(t.Context())
	h.Emit(Event{Type: "platform.x", Record: func() {}})
	if s := h.Stats(); s.DroppedRecords != 1 || s.Emitted != 0 {
		t.Errorf("stats %+v, want the unencodable event counted as dropped", s)
	}
	if logs.count("telemetry event dropped: cannot encode its record") != 1 {
		t.Error("drop not logged")
	}
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1659441683), int64(521999999))
	f.Add(int64(-62135596800), int64(1))
	f.Add(int64(253402300799), int64(999999999))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		ts := time.Unix(sec, nsec)
		if got, want := string(appendTime(nil, ts)), ts.UTC().Format(timeLayout); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", ts, got, want)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t", "\x00\x1f\x7f", "\u2028\u2029", "bad \xff utf8", "é日本\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: invalid json: %v", s, b, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("round trip %q → %s → %q", s, b, got)
		}
		if bytes.IndexByte(b, '\n') >= 0 {
			t.Fatalf("raw newline in %s", b)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
