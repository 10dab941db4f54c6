// Command hello is the sample function `azlens up` runs: an aws-lambda-go handler instrumented with
// the OpenTelemetry Go SDK and otellambda, built as a Lambda "bootstrap" executable and run
// unchanged by the embedded runtime (or on AWS Lambda).
//
// It exports OTLP/HTTP to the endpoint the SDK reads from OTEL_EXPORTER_OTLP_ENDPOINT —
// http://localhost:4318 by default, where azlens-agent (or the OTel Lambda layer's collector)
// listens —: otellambda's server span per invocation, one child span ("greet") and one counter
// (hello.greetings). Both providers are flushed at the end of every invocation, before Lambda may
// freeze the environment. The collector joins the spans under the platform's invocation span.
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
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	lambdadetector "go.opentelemetry.io/contrib/detectors/aws/lambda"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

type request struct {
	Name    string `json:"name"`
	SleepMs int    `json:"sleepMs"`
	Fail    bool   `json:"fail"`
}

type response struct {
	Message string `json:"message"`
}

type function struct {
	tracer    trace.Tracer
	greetings metric.Int64Counter
}

func (f *function) handle(ctx context.Context, req request) (response, error) {
	ctx, span := f.tracer.Start(ctx, "greet")
	defer span.End()
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
		err := errors.New("failing as asked")
		span.SetStatus(codes.Error, err.Error())
		return response{}, err
	}
	name := req.Name
	if name == "" {
		name = "world"
	}
	span.SetAttributes(attribute.String("hello.name", name))
	f.greetings.Add(ctx, 1)
	log.Printf("request %s: greeting %s", id, name)
	return response{Message: fmt.Sprintf("hello, %s", name)}, nil
}

// flushers flushes the tracer and the meter provider: otellambda calls it when the handler
// returns, so the invocation's telemetry is at the agent before the environment can be frozen.
type flushers []otellambda.Flusher

func (fs flushers) ForceFlush(ctx context.Context) error {
	var errs []error
	for _, f := range fs {
		errs = append(errs, f.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// xrayCarrier hands otellambda the trace context Lambda passes (Lambda-Runtime-Trace-Id, which
// aws-lambda-go puts in _X_AMZN_TRACE_ID): the handler's span continues the platform's trace.
func xrayCarrier([]byte) propagation.TextMapCarrier {
	return propagation.HeaderCarrier{"X-Amzn-Trace-Id": []string{os.Getenv("_X_AMZN_TRACE_ID")}}
}

func main() {
	ctx := context.Background()
	res, err := lambdadetector.NewResourceDetector().Detect(ctx)
	if err != nil {
		log.Printf("lambda resource detector: %v", err) // outside Lambda: the default resource
		res = resource.Default()
	}
	texp, err := otlptracehttp.New(ctx)
	if err != nil {
		log.Fatalf("trace exporter: %v", err)
	}
	mexp, err := otlpmetrichttp.New(ctx)
	if err != nil {
		log.Fatalf("metric exporter: %v", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(texp),
		sdktrace.WithResource(res),
		// X-Ray's ids, so the trace id is the Root Lambda passes. Every invocation is recorded,
		// whatever X-Ray's sampling flag says: the platform's view of each invocation is kept too,
		// and sampling is the collector's business.
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Minute))),
		sdkmetric.WithResource(res),
	)
	f := &function{tracer: tp.Tracer("github.com/azlens/azlens/examples/hello")}
	if f.greetings, err = mp.Meter("github.com/azlens/azlens/examples/hello").Int64Counter("hello.greetings",
		metric.WithDescription("Greetings sent."), metric.WithUnit("{greeting}")); err != nil {
		log.Fatalf("counter: %v", err)
	}
	lambda.Start(otellambda.InstrumentHandler(f.handle,
		otellambda.WithTracerProvider(tp),
		otellambda.WithFlusher(flushers{tp, mp}),
		otellambda.WithPropagator(xray.Propagator{}),
		otellambda.WithEventToCarrier(xrayCarrier),
	))
}
