// Command hello is the sample function `azlens up` runs: an aws-lambda-go handler instrumented with
// the OpenTelemetry Go SDK and otellambda, built as a Lambda "bootstrap" executable and run
// unchanged by the embedded runtime (or on AWS Lambda).
//
// It exports OTLP/HTTP to the endpoint the SDK reads from OTEL_EXPORTER_OTLP_ENDPOINT —
// http://localhost:4318 by default, where azlens-agent (or the OTel Lambda layer's collector)
// listens —: otellambda's server span per invocation, one child span ("greet"), one counter
// (hello.greetings) and one log record per invocation through the OTel log API ("greeting" or
// "failing", emitted in the greet span's context, so it carries the trace and span id). The three
// providers are flushed at the end of every invocation, before Lambda may freeze the environment.
// The collector joins the spans under the platform's invocation span, and the log records follow.
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
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
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
	logger    otellog.Logger
}

// emit sends one log record through the OTel log API, in ctx's span (the SDK copies its trace and
// span id onto the record).
func (f *function) emit(ctx context.Context, sev otellog.Severity, body string, attrs ...attribute.KeyValue) {
	var r otellog.Record
	r.SetTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetSeverityText(sev.String())
	r.SetBody(attribute.StringValue(body))
	r.AddAttributes(attrs...)
	f.logger.Emit(ctx, r)
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
		f.emit(ctx, otellog.SeverityError, "failing as asked", attribute.String("faas.invocation_id", id))
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
	f.emit(ctx, otellog.SeverityInfo, "greeting "+name, attribute.String("faas.invocation_id", id), attribute.String("hello.name", name))
	return response{Message: fmt.Sprintf("hello, %s", name)}, nil
}

// flushers flushes the tracer, meter and logger providers: otellambda calls it when the handler
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
	lexp, err := otlploghttp.New(ctx)
	if err != nil {
		log.Fatalf("log exporter: %v", err)
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
	// The batch processor exports on ForceFlush at the end of each invocation (its own timer would
	// fire only while the environment is thawed).
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)),
		sdklog.WithResource(res),
	)
	const scope = "github.com/azlens/azlens/examples/hello"
	f := &function{tracer: tp.Tracer(scope), logger: lp.Logger(scope)}
	if f.greetings, err = mp.Meter(scope).Int64Counter("hello.greetings",
		metric.WithDescription("Greetings sent."), metric.WithUnit("{greeting}")); err != nil {
		log.Fatalf("counter: %v", err)
	}
	lambda.Start(otellambda.InstrumentHandler(f.handle,
		otellambda.WithTracerProvider(tp),
		otellambda.WithFlusher(flushers{tp, mp, lp}),
		otellambda.WithPropagator(xray.Propagator{}),
		otellambda.WithEventToCarrier(xrayCarrier),
	))
}
