// Command function is a real aws-lambda-go function for the emulator's tests. What each invocation
// does is chosen by its payload's "mode"; what init does by TESTFN_INIT.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Mode    string `json:"mode"`
	Message string `json:"message"`
	N       int    `json:"n"`
	Ms      int    `json:"ms"`
}

func main() {
	initMode := os.Getenv("TESTFN_INIT")
	switch {
	case initMode == "error":
		postInitError()
		os.Exit(1)
	case initMode == "exit":
		os.Exit(3)
	case initMode == "hang":
		time.Sleep(time.Hour)
	case strings.HasPrefix(initMode, "wait-file:"):
		// Hold init (and so extension registration open) until the test creates the file.
		for path := strings.TrimPrefix(initMode, "wait-file:"); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(path); err == nil {
				break
			}
		}
	case strings.HasPrefix(initMode, "hang-once:"):
		// Hang only the first time (the marker file is removed), so a retried init succeeds.
		path := strings.TrimPrefix(initMode, "hang-once:")
		if err := os.Remove(path); err == nil {
			time.Sleep(time.Hour)
		}
	}
	var opts []lambda.Option
	switch os.Getenv("TESTFN_SIGTERM") {
	case "1":
		opts = append(opts, lambda.WithEnableSIGTERM(func() {
			fmt.Println("SIGTERM received")
			os.Exit(0)
		}))
	case "ignore":
		opts = append(opts, lambda.WithEnableSIGTERM(func() { fmt.Println("SIGTERM ignored") }))
	}
	lambda.StartWithOptions(handle, opts...)
}

func postInitError() {
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"init went wrong","errorType":"Function.InitBoom"}`))
	req.Header.Set("Lambda-Runtime-Function-Error-Type", "Function.InitBoom")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("init error post failed:", err)
		return
	}
	resp.Body.Close()
	fmt.Println("init error posted:", resp.StatusCode)
}

var hold [][]byte

func handle(ctx context.Context, req request) (any, error) {
	switch req.Mode {
	case "", "echo":
		return map[string]string{"echo": req.Message}, nil
	case "error":
		return nil, errors.New(req.Message)
	case "typed-error":
		return nil, messages.InvokeResponse_Error{Type: "Function.Custom", Message: req.Message}
	case "panic":
		panic(req.Message)
	case "sleep":
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
		return map[string]string{"slept": fmt.Sprint(req.Ms)}, nil
	case "exit":
		os.Exit(req.N)
	case "log":
		for i := range req.N {
			fmt.Printf("log line %d\n", i)
		}
		return map[string]int{"lines": req.N}, nil
	case "jsonlog":
		l := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		for i := range req.N {
			l.Info("json line", "i", i)
		}
		return map[string]int{"lines": req.N}, nil
	case "env":
		return os.Environ(), nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return map[string]any{
			"requestId":     lc.AwsRequestID,
			"functionArn":   lc.InvokedFunctionArn,
			"deadlineMs":    dl.UnixMilli(),
			"traceId":       trace,
			"envTraceId":    os.Getenv("_X_AMZN_TRACE_ID"),
			"clientContext": lc.ClientContext.Custom,
			"cognitoPoolId": lc.Identity.CognitoIdentityPoolID,
		}, nil
	case "metadata":
		url := "http://" + os.Getenv("AWS_LAMBDA_METADATA_API") + "/2026-01-15/metadata/execution-environment"
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		r.Header.Set("Authorization", "Bearer "+os.Getenv("AWS_LAMBDA_METADATA_TOKEN"))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return map[string]any{"status": resp.StatusCode, "body": string(b), "cacheControl": resp.Header.Get("Cache-Control")}, nil
	case "alloc":
		b := make([]byte, req.N<<20)
		for i := range b {
			b[i] = byte(i)
		}
		hold = append(hold, b)
		return map[string]int{"allocatedMB": req.N}, nil
	case "big":
		return strings.Repeat("x", req.N), nil
	}
	return nil, fmt.Errorf("unknown mode %q", req.Mode)
}
