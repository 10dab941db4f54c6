package runtimeloop_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/internal/runtimeloop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The loop against the real Runtime API: the emulator's in-process runtime is this loop.
func TestRunServesInvocations(t *testing.T) {
	type in struct{ N int }
	s, err := emulator.NewSandbox(emulator.SandboxConfig{Function: emulator.Function{
		Runtime: &emulator.InProcessRuntime{Handler: func(v in) (int, error) {
			if v.N < 0 {
				return 0, errors.New("negative")
			}
			return v.N * 2, nil
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background(), emulator.ShutdownSpindown)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ payload, want, fnErr string }{
		{`{"N":21}`, `42`, ""},
		{`{"N":-1}`, `{"errorMessage":"negative","errorType":"errorString"}`, "Unhandled"},
		{`not json`, `"errorType":"SyntaxError"`, "Unhandled"},
	} {
		res, err := s.Invoke(context.Background(), &emulator.InvokeRequest{Payload: []byte(tc.payload)})
		if err != nil {
			t.Fatal(err)
		}
		<-res.Done
		if !strings.Contains(string(res.Payload), tc.want) || res.FunctionError != tc.fnErr {
			t.Errorf("%s: got %s %q", tc.payload, res.Payload, res.FunctionError)
		}
	}
}

// A Runtime API that refuses /next must end the loop with an error, as aws-lambda-go exits. This
// server is a stand-in: the real API never answers /next with 500 on demand.
func TestRunStopsOnRefusedNext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errorType":"ServiceException"}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	err := runtimeloop.Run(context.Background(), strings.TrimPrefix(srv.URL, "http://"), lambda.NewHandler(func() error { return nil }))
	if err == nil || !strings.Contains(err.Error(), "unexpected status 500") {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunReturnsNilWhenCancelled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	}))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- runtimeloop.Run(ctx, strings.TrimPrefix(srv.URL, "http://"), lambda.NewHandler(func() error { return nil }))
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v", err)
	}
}
