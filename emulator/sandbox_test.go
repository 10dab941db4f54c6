package emulator

import (
	"context"
	"os"
	"testing"
)

func TestProcessEcho(t *testing.T) {
	s, log, err := startSandbox(t, SandboxConfig{Function: processFunction(nil)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	for i := range 3 {
		res := invoke(t, s, `{"mode":"echo","message":"hi"}`)
		if string(res.Payload) != `{"echo":"hi"}` || res.FunctionError != "" || res.Status != "success" {
			t.Fatalf("invocation %d: got %+v payload %s", i, res, res.Payload)
		}
		if res.ColdStart != (i == 0) {
			t.Errorf("invocation %d: ColdStart = %v", i, res.ColdStart)
		}
	}
	if n := len(log.find("platform.report")); n != 3 {
		t.Errorf("reports = %d, want 3", n)
	}
	if err := s.Shutdown(context.Background(), ShutdownSpindown); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invoke(context.Background(), &InvokeRequest{}); err != ErrSandboxShutdown {
		t.Fatalf("Invoke after Shutdown: %v", err)
	}
	_ = os.Getpid
}
