package otlpin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// sdkErrors collects what the OpenTelemetry SDK reports through its global error handler — where
// the trace and metric exporters report a partial success — for the duration of a test.
type sdkErrors struct {
	mu   sync.Mutex
	errs []error
}

func (s *sdkErrors) Handle(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *sdkErrors) all() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func catchSDKErrors(t *testing.T) *sdkErrors {
	s := &sdkErrors{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(s)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return s
}

// exportAll sends one span, one metric point and one log record through the real SDK and its
// OTLP/HTTP exporters to url, flushing each provider as otellambda does at a handler's end; it
// returns the flushes' errors and what the SDK's error handler saw.
func exportAll(t *testing.T, url string, gzip bool) (flush, handled error) {
	t.Helper()
	caught := catchSDKErrors(t)
	ctx := context.Background()
	tc, mc, lc := otlptracehttp.NoCompression, otlpmetrichttp.NoCompression, otlploghttp.NoCompression
	if gzip {
		tc, mc, lc = otlptracehttp.GzipCompression, otlpmetrichttp.GzipCompression, otlploghttp.GzipCompression
	}
	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url+"/v1/traces"), otlptracehttp.WithCompression(tc))
	if err != nil {
		t.Fatal(err)
	}
	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(url+"/v1/metrics"), otlpmetrichttp.WithCompression(mc))
	if err != nil {
		t.Fatal(err)
	}
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpointURL(url+"/v1/logs"), otlploghttp.WithCompression(lc))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp))
	reader := sdkmetric.NewPeriodicReader(mexp)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)))
	defer func() {
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
		_ = lp.Shutdown(ctx)
	}()

	sctx, span := tp.Tracer("t").Start(ctx, "handler")
	counter, err := mp.Meter("t").Int64Counter("calls")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(sctx, 1)
	var r otellog.Record
	r.SetBody(attribute.StringValue("hello"))
	lp.Logger("t").Emit(sctx, r)
	span.End()
	flush = errors.Join(tp.ForceFlush(ctx), mp.ForceFlush(ctx), lp.ForceFlush(ctx))
	return flush, caught.all()
}

// TestSDKExportersAcceptTheAnswers: the OpenTelemetry Go SDK's own OTLP/HTTP exporters (protobuf,
// plain and gzip) take the agent's answers as full success — no error from ForceFlush, none
// reported to the SDK's error handler (where a partial success or an unreadable answer would go)
// — and every payload reaches the sink.
func TestSDKExportersAcceptTheAnswers(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			s := &sink{}
			srv := httptest.NewServer(NewHandler(s, s, 1<<20, nil))
			defer srv.Close()
			flush, handled := exportAll(t, srv.URL, gz)
			if flush != nil || handled != nil {
				t.Fatalf("the SDK did not take the answers as success: flush %v; error handler %v", flush, handled)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			got := map[string]int{}
			for _, p := range s.got {
				got[p.signal+"/"+p.encoding]++
			}
			// The meter provider's Shutdown exports the cumulative point once more.
			if got["traces/protobuf"] != 1 || got["metrics/protobuf"] < 1 || got["logs/protobuf"] != 1 || s.rejected != 0 {
				t.Fatalf("stored %v, %d rejected; want a protobuf payload of each signal", got, s.rejected)
			}
		})
	}
}

// TestSDKErrorsWouldBeSeen proves the check above can fail: an answer with a partial_success
// warning, the same 200 otherwise, is reported by the SDK for each signal.
func TestSDKErrorsWouldBeSeen(t *testing.T) {
	// ExportTraceServiceResponse{partial_success: {error_message: "x"}}: field 1 (message) holding
	// field 2 (string "x"); the same field numbers in the metric and log responses.
	partial := []byte{1<<3 | wireLen, 3, 2<<3 | wireLen, 1, 'x'}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctProtobuf)
		_, _ = w.Write(partial)
	}))
	defer srv.Close()
	flush, handled := exportAll(t, srv.URL, false)
	if flush == nil && handled == nil {
		t.Fatal("a partial-success warning went unnoticed: the check proves nothing")
	}
}

// TestAnswersAreExportResponsesOfEachSignal decodes the 200 answer of every signal and encoding
// with pdata's Export*ServiceResponse types: an empty message, no partial_success.
func TestAnswersAreExportResponsesOfEachSignal(t *testing.T) {
	h := NewHandler(&sink{}, nil, 1<<20, nil)
	bodies := map[string][2][]byte{ // path → protobuf, JSON request bodies (empty messages)
		"/v1/traces":  {nil, []byte(`{"resourceSpans":[]}`)},
		"/v1/metrics": {nil, []byte(`{"resourceMetrics":[]}`)},
		"/v1/logs":    {nil, []byte(`{"resourceLogs":[]}`)},
	}
	for path, b := range bodies {
		for i, ct := range []string{ctProtobuf, ctJSON} {
			w := post(h, path, ct, "", b[i])
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != ct {
				t.Fatalf("%s %s: %d %q", path, ct, w.Code, w.Header().Get("Content-Type"))
			}
			var err error
			var partial bool
			switch path {
			case "/v1/traces":
				r := ptraceotlp.NewExportResponse()
				err = unmarshal(ct, w.Body.Bytes(), r.UnmarshalProto, r.UnmarshalJSON)
				partial = r.PartialSuccess().RejectedSpans() != 0 || r.PartialSuccess().ErrorMessage() != ""
			case "/v1/metrics":
				r := pmetricotlp.NewExportResponse()
				err = unmarshal(ct, w.Body.Bytes(), r.UnmarshalProto, r.UnmarshalJSON)
				partial = r.PartialSuccess().RejectedDataPoints() != 0 || r.PartialSuccess().ErrorMessage() != ""
			case "/v1/logs":
				r := plogotlp.NewExportResponse()
				err = unmarshal(ct, w.Body.Bytes(), r.UnmarshalProto, r.UnmarshalJSON)
				partial = r.PartialSuccess().RejectedLogRecords() != 0 || r.PartialSuccess().ErrorMessage() != ""
			}
			if err != nil || partial {
				t.Fatalf("%s %s: answer %q is not a full-success export response: %v", path, ct, w.Body.String(), err)
			}
		}
	}
}

func unmarshal(ct string, b []byte, fromProto, fromJSON func([]byte) error) error {
	if ct == ctProtobuf {
		return fromProto(b)
	}
	return fromJSON(b)
}
