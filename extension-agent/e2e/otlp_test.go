package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/azlens/azlens/emulator"
)

const (
	otellambdaScope = "go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	helloScope      = "github.com/azlens/azlens/examples/hello"
)

// TestFunctionOTelJoinsItsInvocations runs examples/hello — aws-lambda-go with the OpenTelemetry
// Go SDK and otellambda, exporting OTLP/HTTP to the endpoint the environment gives it — beside
// the real agent in a freezing emulator sandbox, forwarding to the real lambdatelemetry receiver.
// Across 1,000 back-to-back invocations and the SHUTDOWN that follows, every invocation's handler
// span must arrive, in its invocation's trace, as a child of the platform's invocation span, with
// the SDK's child span under it; the SDK's counter must arrive with the environment's resource,
// and every invocation's SDK log record (OTel log API, otlploghttp) exactly once, with that
// resource, in the invocation's trace and the greet span.
// Half the invocations carry a sampled X-Ray header (the platform events then have tracing and
// the SDK continues the same trace id), half do not (the receiver moves the SDK's trace).
func TestFunctionOTelJoinsItsInvocations(t *testing.T) {
	const n = 1000
	traces, metrics, logs := new(consumertest.TracesSink), new(consumertest.MetricsSink), new(consumertest.LogsSink)
	endpoint, stopReceiver := startReceiver(t, traces, logs, metrics)
	ctx := context.Background()

	logsOut := &logBuffer{}
	sb, err := emulator.NewSandbox(emulator.SandboxConfig{
		Function: emulator.Function{
			Name:       "hello",
			Env:        map[string]string{"AZLENS_COLLECTOR_ENDPOINT": "http://" + endpoint, "AZLENS_SPOOL_DIR": t.TempDir()},
			Runtime:    &emulator.ProcessRuntime{Path: helloPath},
			Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
		},
		AZ:        "use1-az4",
		Freeze:    true,
		LogOutput: logsOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := sb.Start(sctx); err != nil {
		t.Fatal(err)
	}
	requests := make([]string, 0, n)
	for i := range n {
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		req := &emulator.InvokeRequest{Payload: []byte(fmt.Sprintf(`{"name":"n%d"}`, i))}
		if i%2 == 0 {
			req.TraceHeader = fmt.Sprintf("Root=1-%08x-%024x;Parent=%016x;Sampled=1", time.Now().Unix(), i+1, i+1)
		}
		res, err := sb.Invoke(ictx, req)
		if err != nil {
			cancel()
			t.Fatalf("invoke %d: %v", i, err)
		}
		if res.Status != "success" {
			cancel()
			t.Fatalf("invocation %d: %s %s: %s", i, res.Status, res.ErrorType, res.Payload)
		}
		select {
		case <-res.Done:
		case <-ictx.Done():
			t.Fatalf("invocation %s never completed", res.RequestID)
		}
		cancel()
		requests = append(requests, res.RequestID)
	}
	shutdown(t, sb)
	// SHUTDOWN flushed everything the agent held (the last report included) before the agent
	// exited; stopping the receiver emits anything it still correlates. The sinks are complete.
	stopReceiver()
	logsOut.mu.Lock()
	out := logsOut.b.String()
	logsOut.mu.Unlock()
	if !strings.Contains(out, "dropped=0") || strings.Contains(out, "rejected an OTLP request") {
		t.Fatalf("the agent lost data; its output:\n%s", out)
	}

	by := joinIndex(traces.AllTraces(), logs.AllLogs())
	for i, r := range requests {
		if err := by.joined(r, "use1-az4", sb.ID()); err != nil {
			t.Fatalf("invocation %d: %v", i, err)
		}
		if f := by[r]; i%2 == 0 && !strings.HasSuffix(f.inv.TraceID().String(), fmt.Sprintf("%024x", i+1)) {
			t.Fatalf("invocation %d: traced invocation not in its X-Ray trace: %s", i, f.inv.TraceID())
		}
	}
	points, err := greetingPoints(metrics.AllMetrics(), "use1-az4")
	if err != nil {
		t.Fatal(err)
	}
	greetings := int64(0)
	for v := range points {
		greetings = max(greetings, v)
	}
	if greetings != n {
		t.Fatalf("hello.greetings reached %d, want %d (cumulative, flushed at every invocation's end)", greetings, n)
	}
}

// sdkLog is one log record examples/hello emitted through the OTel log API.
type sdkLog struct {
	requestID string
	rec       plog.LogRecord
	res       pcommon.Map
}

// sdkLogs picks examples/hello's own log records (its scope) out of what the receiver emitted,
// beside the platform's and the function's stdout lines.
func sdkLogs(lds []plog.Logs) []sdkLog {
	var out []sdkLog
	for _, ld := range lds {
		rls := ld.ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			rl := rls.At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				if sl.Scope().Name() != helloScope {
					continue
				}
				for k := 0; k < sl.LogRecords().Len(); k++ {
					lr := sl.LogRecords().At(k)
					id, _ := lr.Attributes().Get("faas.invocation_id")
					out = append(out, sdkLog{requestID: id.Str(), rec: lr, res: rl.Resource().Attributes()})
				}
			}
		}
	}
	return out
}

// environmentResource checks that an SDK resource gained the environment's attributes.
func environmentResource(res pcommon.Map, az, instance string) error {
	want := map[string]string{"cloud.availability_zone": az, "faas.instance": instance, "cloud.provider": "aws", "faas.name": "hello"}
	for k, v := range want {
		if got, _ := res.Get(k); got.Str() != v {
			return fmt.Errorf("resource %s = %q, want %q (resource %v)", k, got.Str(), v, res.AsRaw())
		}
	}
	return nil
}

// sdkFound is what the receiver emitted for one invocation: the platform's invocation span, the
// handler's span (otellambda), its greet child and the SDK log records, with how many times each.
type sdkFound struct {
	inv, handler, child    ptrace.Span
	invN, handlerN, childN int
	res                    pcommon.Map
	logs                   []sdkLog
}

type sdkIndex map[string]*sdkFound

// joinIndex indexes the traces and logs the receiver emitted by invocation.
func joinIndex(tds []ptrace.Traces, lds []plog.Logs) sdkIndex {
	by := sdkIndex{}
	get := func(id string) *sdkFound {
		if by[id] == nil {
			by[id] = &sdkFound{}
		}
		return by[id]
	}
	var children []ptrace.Span
	for _, td := range tds {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					sp := ss.Spans().At(k)
					id, _ := sp.Attributes().Get("faas.invocation_id")
					switch {
					case ss.Scope().Name() == otellambdaScope:
						f := get(id.Str())
						f.handler, f.res = sp, rs.Resource().Attributes()
						f.handlerN++
					case sp.Name() == "greet":
						children = append(children, sp)
					case sp.Kind() == ptrace.SpanKindServer && id.Str() != "":
						f := get(id.Str())
						f.inv = sp
						f.invN++
					}
				}
			}
		}
	}
	handlers := map[pcommon.SpanID]*sdkFound{}
	for _, f := range by {
		if f.handlerN > 0 {
			handlers[f.handler.SpanID()] = f
		}
	}
	for _, c := range children {
		if f := handlers[c.ParentSpanID()]; f != nil {
			f.child = c
			f.childN++
		}
	}
	for _, l := range sdkLogs(lds) {
		get(l.requestID).logs = append(get(l.requestID).logs, l)
	}
	return by
}

// joined checks that invocation r arrived exactly once, joined: its handler span under its
// invocation span, the greet span under it, one SDK log record in the invocation's trace and the
// greet span, the SDK resources enriched with the environment's.
func (by sdkIndex) joined(r, az, instance string) error {
	f := by[r]
	switch {
	case f == nil || f.invN == 0:
		return fmt.Errorf("%s: no platform span", r)
	case f.handlerN == 0:
		return fmt.Errorf("%s: the handler span never arrived", r)
	case f.invN != 1 || f.handlerN != 1 || f.childN != 1:
		return fmt.Errorf("%s: %d invocation, %d handler, %d greet spans, want 1 each", r, f.invN, f.handlerN, f.childN)
	case f.handler.TraceID() != f.inv.TraceID() || f.handler.ParentSpanID() != f.inv.SpanID():
		return fmt.Errorf("%s: handler span in trace %s under %s, invocation span %s/%s",
			r, f.handler.TraceID(), f.handler.ParentSpanID(), f.inv.TraceID(), f.inv.SpanID())
	case f.child.TraceID() != f.inv.TraceID():
		return fmt.Errorf("%s: the greet span is outside the invocation's trace", r)
	case len(f.logs) != 1:
		return fmt.Errorf("%s: %d SDK log records, want 1", r, len(f.logs))
	}
	if l := f.logs[0]; l.rec.TraceID() != f.inv.TraceID() || l.rec.SpanID() != f.child.SpanID() {
		return fmt.Errorf("%s: SDK log record in %s/%s, want the invocation's trace %s and the greet span %s",
			r, l.rec.TraceID(), l.rec.SpanID(), f.inv.TraceID(), f.child.SpanID())
	}
	if err := environmentResource(f.res, az, instance); err != nil {
		return fmt.Errorf("%s: handler span: %w", r, err)
	}
	if err := environmentResource(f.logs[0].res, az, instance); err != nil {
		return fmt.Errorf("%s: SDK log record: %w", r, err)
	}
	return nil
}

// greetingPoints returns how many times each value of the cumulative hello.greetings counter
// arrived (one point per invocation's flush), checking each carries the environment's AZ ID.
func greetingPoints(mds []pmetric.Metrics, az string) (map[int64]int, error) {
	out := map[int64]int{}
	for _, md := range mds {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			rm := rms.At(i)
			sms := rm.ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					if m.Name() != "hello.greetings" || m.Type() != pmetric.MetricTypeSum {
						continue
					}
					if v, _ := rm.Resource().Attributes().Get("cloud.availability_zone"); v.Str() != az {
						return nil, fmt.Errorf("SDK metric without the AZ ID: %v", rm.Resource().Attributes().AsRaw())
					}
					for p := 0; p < m.Sum().DataPoints().Len(); p++ {
						out[m.Sum().DataPoints().At(p).IntValue()]++
					}
				}
			}
		}
	}
	return out, nil
}
