// Command hello is the sample function `azlens up` runs: a plain aws-lambda-go handler, built as a
// Lambda "bootstrap" executable and run unchanged by the embedded runtime (or on AWS Lambda).
//
// The payload may ask for behaviour, so demos and tests can drive it:
//
//	{"name":"ada"}              → {"message":"hello, ada"}
//	{"sleepMs":120}             → sleeps that long first
//	{"fail":true}               → returns an error (X-Amz-Function-Error: Unhandled)
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Name    string `json:"name"`
	SleepMs int    `json:"sleepMs"`
	Fail    bool   `json:"fail"`
}

type response struct {
	Message string `json:"message"`
}

func handle(ctx context.Context, req request) (response, error) {
	id := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		id = lc.AwsRequestID
	}
	if req.SleepMs > 0 {
		select {
		case <-time.After(time.Duration(req.SleepMs) * time.Millisecond):
		case <-ctx.Done():
			return response{}, ctx.Err()
		}
	}
	if req.Fail {
		log.Printf("request %s: failing as asked", id)
		return response{}, errors.New("failing as asked")
	}
	name := req.Name
	if name == "" {
		name = "world"
	}
	log.Printf("request %s: greeting %s", id, name)
	return response{Message: fmt.Sprintf("hello, %s", name)}, nil
}

func main() { lambda.Start(handle) }
