package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// registerBody is the Extensions API register request.
type registerBody struct {
	Events []string `json:"events"`
}

// parseRegisterBody decodes a register request and checks its event types. An empty body means no
// events, as for extensions that only want telemetry.
func parseRegisterBody(b []byte) (events []string, invalidEvent string, err error) {
	if len(b) == 0 {
		return nil, "", nil
	}
	var rb registerBody
	if err := json.Unmarshal(b, &rb); err != nil {
		return nil, "", fmt.Errorf("register body: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range rb.Events {
		switch e {
		case "INVOKE", "SHUTDOWN":
		default:
			return nil, e, fmt.Errorf("events: unknown event type %q", e)
		}
		if !seen[e] {
			seen[e] = true
			events = append(events, e)
		}
	}
	return events, "", nil
}

// errorBody is the body a runtime or extension posts with an error.
type errorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// parseErrorBody reads the type and message of an error body; ok is false when it is not a JSON
// object (the body is then kept as the message).
func parseErrorBody(b []byte) (errorType, message string, ok bool) {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return "", "", false
	}
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		return "", "", false
	}
	return eb.ErrorType, eb.ErrorMessage, true
}
