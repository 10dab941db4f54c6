package listener

import "errors"

// ValidateObject checks that b is one JSON object under the same strict grammar (and depth limit)
// as the Telemetry API bodies, so whatever it accepts the receiver's fastjson parser accepts too.
// The OTLP endpoint uses it for OTLP/JSON requests, which the agent stores without decoding and
// forwards nested three levels deep (batch object, "otlp" array, item object): the limit counts them.
func ValidateObject(b []byte) error {
	s := scanner{b: b}
	i := s.ws(0)
	if i >= len(b) || b[i] != '{' {
		return errors.New("must be a JSON object")
	}
	end, _, err := s.object(i+1, 4, false)
	if err != nil {
		return err
	}
	return s.tail(end)
}
