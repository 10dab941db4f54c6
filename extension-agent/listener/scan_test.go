package listener

import (
	"encoding/json"
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
	f.Fuzz(func(t *testing.T, body []byte) {
		sc := &scanner{b: body}
		verr := sc.validate()
		if json.Valid(body) && verr != nil {
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
