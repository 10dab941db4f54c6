package listener

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func (s *scanner) validate() error {
	end, err := s.value(s.ws(0), 0)
	if err != nil {
		return err
	}
	return s.tail(end)
}

func TestScannerGrammar(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"a":[1,-0.5e+10,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}`: true,
		` [ ] `:    true,
		`01`:       false,
		`1.`:       false,
		`-`:        false,
		`1e`:       false,
		`"\x"`:     false,
		`"\u12"`:   false,
		`[1,]`:     false,
		`{"a"}`:    false,
		`{"a":1,}`: false,
		`tru`:      false,
		`"abc`:     false,
		`[1] 2`:    false,
		`NaN`:      false,
	} {
		err := (&scanner{b: []byte(body)}).validate()
		if (err == nil) != ok {
			t.Errorf("%s: error %v, want ok=%v", body, err, ok)
		}
	}
}

// FuzzScanAgreesWithFastjson: whatever the listener's scanner accepts, the receiver's parser
// (fastjson) accepts, reading the same type; and every valid JSON document passes the scanner.
func FuzzScanAgreesWithFastjson(f *testing.F) {
	f.Add([]byte(samples))
	f.Add([]byte(`{"a":[1,-0.5e+10,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"]}`))
	f.Add([]byte(`[{"type":"a","type":"b"},{"x":{"type":1},"type":"c"}]`))
	f.Add([]byte(`[{"type":"\u0070latform.start","record":{}}]`))
	f.Add([]byte(`[{"time":"t","type":"function","record":` + strings.Repeat(`{"a":[`, 160) + strings.Repeat(`]}`, 160) + `}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		sc := &scanner{b: body}
		verr := sc.validate()
		// Valid JSON is refused only past maxDepth, where fastjson refuses it too (events() then
		// forwards a too-deep record as a string instead).
		if json.Valid(body) && verr != nil && !errors.Is(verr, errTooDeep) {
			t.Fatalf("valid JSON refused: %v", verr)
		}
		if verr == nil {
			if _, err := fastjson.ParseBytes(body); err != nil {
				t.Fatalf("scanner accepted what fastjson refuses: %v", err)
			}
		}
		_ = sc.events(func(ev, typ []byte) error {
			v, err := fastjson.ParseBytes(ev)
			if err != nil {
				t.Fatalf("event %q: fastjson: %v", ev, err)
			}
			ft := v.Get("type")
			if (typ != nil) != (ft != nil && ft.Type() == fastjson.TypeString) {
				t.Fatalf("event %q: scanner type %q, fastjson type %v", ev, typ, ft)
			}
			return nil
		})
	})
}

// TestDeepRecordIsForwardedAsItsText: a record nested past maxDepth is valid JSON Lambda does send
// (a JSON-format log line is the function's own object); the listener keeps the batch and forwards
// that record as a string of its exact text, which every parser downstream accepts.
func TestDeepRecordIsForwardedAsItsText(t *testing.T) {
	record := strings.Repeat(`{"a":`, 400) + `1` + strings.Repeat(`}`, 400)
	body := []byte(`[{"time":"2026-11-26T12:00:00.000Z","type":"function","record":` + record + `},` +
		`{"time":"2026-11-26T12:00:00.001Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success"}}]`)
	events, err := Split(body)
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	var got struct{ Time, Type, Record string }
	if err := json.Unmarshal(events[0], &got); err != nil {
		t.Fatalf("rewritten event %.120q: %v", events[0], err)
	}
	if got.Time != "2026-11-26T12:00:00.000Z" || got.Type != "function" || got.Record != record {
		t.Errorf("rewritten event: time %q type %q record %d bytes (want %d, same text)", got.Time, got.Type, len(got.Record), len(record))
	}
	if _, err := fastjson.ParseBytes(events[0]); err != nil {
		t.Errorf("the receiver's parser refuses the rewritten event: %v", err)
	}
	if !bytes.Contains(events[1], []byte(`"requestId":"r1"`)) {
		t.Errorf("the event after the deep one: %s", events[1])
	}
	for _, bad := range []string{
		`[{"type":"function","record":` + strings.Repeat("[", 400) + `}]`,                   // unterminated
		`[{"type":7,"record":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}]`, // type not a string
		`[{"type":"function","record":` + strings.Repeat("[", 400) + `"x` + strings.Repeat("]", 400) + `}]`,
	} {
		if _, err := Split([]byte(bad)); err == nil {
			t.Errorf("Split accepted %.60q…", bad)
		}
	}
}
