// Package runtimeloop is a minimal Runtime API client: the in-process runtime of the emulator. It
// polls /next, runs an aws-lambda-go handler and posts the response or error, over real HTTP, so
// an in-process sandbox exercises the same API as a bootstrap process.
package runtimeloop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Run serves invocations from the Runtime API at api (host:port) with h until ctx is cancelled
// (nil) or the loop cannot go on (an error; a handler panic ends it, as it ends a Go runtime).
func Run(ctx context.Context, api string, h lambda.Handler) error {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &client{http: &http.Client{Transport: tr}, base: "http://" + api + "/2018-06-01/runtime/invocation/"}
	for {
		err := c.serveOne(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type client struct {
	http *http.Client
	base string
}

// errPanicked ends the loop after a panic was reported, as aws-lambda-go exits its process.
var errPanicked = errors.New("runtimeloop: handler panicked")

func (c *client) serveOne(ctx context.Context, h lambda.Handler) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"next", nil)
	if err != nil {
		return fmt.Errorf("next: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("next: %w", err)
	}
	payload, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("next: read payload: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("next: unexpected status %d", resp.StatusCode)
	}
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	out, ierr := invoke(ctx, h, resp.Header, payload)
	if ierr != nil {
		b, _ := json.Marshal(ierr)
		if err := c.post(ctx, id+"/error", b); err != nil {
			return err
		}
		if ierr.ShouldExit {
			return errPanicked
		}
		return nil
	}
	return c.post(ctx, id+"/response", out)
}

func (c *client) post(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("post %s: unexpected status %d", path, resp.StatusCode)
	}
	return nil
}

// invoke runs the handler with the context aws-lambda-go would build from the /next headers.
func invoke(ctx context.Context, h lambda.Handler, hdr http.Header, payload []byte) (out []byte, ierr *messages.InvokeResponse_Error) {
	ms, err := strconv.ParseInt(hdr.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		return nil, &messages.InvokeResponse_Error{Type: "Runtime.InvalidDeadline", Message: "parse deadline: " + err.Error()}
	}
	lc := lambdacontext.LambdaContext{
		AwsRequestID:       hdr.Get("Lambda-Runtime-Aws-Request-Id"),
		InvokedFunctionArn: hdr.Get("Lambda-Runtime-Invoked-Function-Arn"),
	}
	if cc := hdr.Get("Lambda-Runtime-Client-Context"); cc != "" {
		if err := json.Unmarshal([]byte(cc), &lc.ClientContext); err != nil {
			return nil, &messages.InvokeResponse_Error{Type: "Runtime.InvalidClientContext", Message: err.Error()}
		}
	}
	if ci := hdr.Get("Lambda-Runtime-Cognito-Identity"); ci != "" {
		if err := json.Unmarshal([]byte(ci), &lc.Identity); err != nil {
			return nil, &messages.InvokeResponse_Error{Type: "Runtime.InvalidCognitoIdentity", Message: err.Error()}
		}
	}
	ictx, cancel := context.WithDeadline(ctx, time.UnixMilli(ms))
	defer cancel()
	ictx = lambdacontext.NewContext(ictx, &lc)
	//nolint:staticcheck // the key aws-lambda-go itself uses, so handlers read the trace id the same way
	ictx = context.WithValue(ictx, "x-amzn-trace-id", hdr.Get("Lambda-Runtime-Trace-Id"))
	defer func() {
		if p := recover(); p != nil {
			out, ierr = nil, &messages.InvokeResponse_Error{Type: typeName(p), Message: fmt.Sprint(p), ShouldExit: true}
		}
	}()
	out, err = h.Invoke(ictx, payload)
	if err != nil {
		var ive messages.InvokeResponse_Error
		if errors.As(err, &ive) {
			return nil, &ive
		}
		return nil, &messages.InvokeResponse_Error{Type: typeName(err), Message: err.Error()}
	}
	return out, nil
}

// typeName names an error the way aws-lambda-go does: its type without the pointer.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "Runtime.Unknown"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
