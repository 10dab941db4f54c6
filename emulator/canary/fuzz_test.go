package canary_test

import (
	"net/http"
	"testing"

	"github.com/azlens/azlens/emulator/canary"
)

// FuzzClassify feeds arbitrary front-door answers to the classifier: it must never panic, and
// the outcome must follow from the status and the function-error header alone.
func FuzzClassify(f *testing.F) {
	f.Add(200, "", []byte(`{"ok":true}`))
	f.Add(200, "Unhandled", []byte(`{"errorType":"Sandbox.Failure","errorMessage":"x"}`))
	f.Add(200, "Unhandled", []byte(`{"errorType":7}`))
	f.Add(200, "Unhandled", []byte(`{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 3.00 seconds"}`))
	f.Add(404, "", []byte(`{"Type":"User","message":"Function not found"}`))
	f.Add(-1, "x", []byte{0xff, 0xfe})
	f.Fuzz(func(t *testing.T, status int, functionError string, body []byte) {
		h := http.Header{}
		if functionError != "" {
			h.Set("X-Amz-Function-Error", functionError)
		}
		got, detail := canary.Classify(status, h, body)
		want := canary.Failure
		if status == 200 {
			want = canary.Success
			if h.Get("X-Amz-Function-Error") != "" {
				want = canary.Error
				if detail == "Sandbox.Timeout" || detail == "Sandbox.Timedout" {
					want = canary.Timeout
				}
			}
		}
		if got != want {
			t.Fatalf("Classify(%d, %q, %q) = %s, want %s", status, functionError, body, got, want)
		}
	})
}
