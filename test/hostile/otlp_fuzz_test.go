package hostile

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/extension-agent/forward"
	"github.com/azlens/azlens/extension-agent/otlpin"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
)

// otlpPair is the agent's OTLP endpoint feeding a real forwarder, which sends to a real
// lambdatelemetry receiver in the same process.
type otlpPair struct {
	endpoint *otlpin.Handler
	fwd      *forward.Forwarder
	traces   *consumertest.TracesSink
	metrics  *consumertest.MetricsSink
	logs     *consumertest.LogsSink
}

func startPair(tb testing.TB) *otlpPair {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := lambdatelemetryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*lambdatelemetryreceiver.Config)
	cfg.NetAddr.Endpoint = addr
	set := receivertest.NewNopSettings(f.Type())
	p := &otlpPair{traces: new(consumertest.TracesSink), metrics: new(consumertest.MetricsSink), logs: new(consumertest.LogsSink)}
	ctx := context.Background()
	tr, err := f.CreateTraces(ctx, set, cfg, p.traces)
	if err != nil {
		tb.Fatal(err)
	}
	mr, err := f.CreateMetrics(ctx, set, cfg, p.metrics)
	if err != nil {
		tb.Fatal(err)
	}
	lr, err := f.CreateLogs(ctx, set, cfg, p.logs)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range []interface {
		Start(context.Context, component.Host) error
	}{tr, mr, lr} {
		if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		_ = lr.Shutdown(context.Background())
		_ = mr.Shutdown(context.Background())
		_ = tr.Shutdown(context.Background())
	})
	p.fwd = forward.New(forward.Options{
		Endpoint: "http://" + addr, Version: "fuzz", Timeout: 5 * time.Second,
		BatchMaxAge: time.Hour, RetryInitial: time.Millisecond, RetryMax: 10 * time.Millisecond,
	}, []byte(`{"faas.name":"fuzz","faas.instance":"env-fuzz","cloud.availability_zone":"use1-az1"}`))
	p.fwd.Start()
	tb.Cleanup(p.fwd.Close)
	p.endpoint = otlpin.NewHandler(p.fwd, p.fwd, 1<<20, nil)
	return p
}

// ofInstance reports whether a resource is the environment's (instance "" matches any).
func ofInstance(res pcommon.Resource, instance string) bool {
	if instance == "" {
		return true
	}
	v, ok := res.Attributes().Get("faas.instance")
	return ok && v.Str() == instance
}

// sdkPoints counts the metric data points of instance that are the function's own (not the
// receiver's platform and agent metrics, which carry its instrumentation scope).
func sdkPoints(all []pmetric.Metrics, instance string) int {
	n := 0
	for _, md := range all {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			if !ofInstance(rms.At(i).Resource(), instance) {
				continue
			}
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				if sms.At(j).Scope().Name() == "github.com/azlens/azlens/receiver/lambdatelemetryreceiver" {
					continue
				}
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					switch m.Type() {
					case pmetric.MetricTypeGauge:
						n += m.Gauge().DataPoints().Len()
					case pmetric.MetricTypeSum:
						n += m.Sum().DataPoints().Len()
					case pmetric.MetricTypeHistogram:
						n += m.Histogram().DataPoints().Len()
					case pmetric.MetricTypeExponentialHistogram:
						n += m.ExponentialHistogram().DataPoints().Len()
					case pmetric.MetricTypeSummary:
						n += m.Summary().DataPoints().Len()
					}
				}
			}
		}
	}
	return n
}

// heldForJoin reports whether any span carries faas.invocation_id: the receiver holds such a
// handler span until its invocation's platform events arrive (or correlation_timeout), so its
// count is not known when the batch is answered.
func heldForJoin(td ptrace.Traces) bool {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if _, ok := spans.At(k).Attributes().Get("faas.invocation_id"); ok {
					return true
				}
			}
		}
	}
	return false
}

// decoded is what pdata makes of body: the item count, whether it decodes, and whether the
// count can be compared (see heldForJoin).
func decoded(signal string, isJSON bool, body []byte) (n int, ok, comparable bool) {
	switch signal {
	case "traces":
		var td ptrace.Traces
		var err error
		if isJSON {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		} else {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		}
		if err != nil {
			return 0, false, true
		}
		return td.SpanCount(), true, !heldForJoin(td)
	case "metrics":
		var md pmetric.Metrics
		var err error
		if isJSON {
			md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(body)
		} else {
			md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(body)
		}
		if err != nil {
			return 0, false, true
		}
		return sdkPoints([]pmetric.Metrics{md}, ""), true, true
	default:
		var ld plog.Logs
		var err error
		if isJSON {
			ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(body)
		} else {
			ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
		}
		if err != nil {
			return 0, false, true
		}
		return ld.LogRecordCount(), true, true
	}
}

// delivered counts the items of instance the receiver has delivered since the last reset.
func (p *otlpPair) delivered(signal, instance string) int {
	n := 0
	switch signal {
	case "traces":
		for _, td := range p.traces.AllTraces() {
			rss := td.ResourceSpans()
			for i := 0; i < rss.Len(); i++ {
				if ofInstance(rss.At(i).Resource(), instance) {
					sss := rss.At(i).ScopeSpans()
					for j := 0; j < sss.Len(); j++ {
						n += sss.At(j).Spans().Len()
					}
				}
			}
		}
	case "metrics":
		n = sdkPoints(p.metrics.AllMetrics(), instance)
	default:
		for _, ld := range p.logs.AllLogs() {
			rls := ld.ResourceLogs()
			for i := 0; i < rls.Len(); i++ {
				if ofInstance(rls.At(i).Resource(), instance) {
					sls := rls.At(i).ScopeLogs()
					for j := 0; j < sls.Len(); j++ {
						n += sls.At(j).LogRecords().Len()
					}
				}
			}
		}
	}
	return n
}

// FuzzOTLPAgentAndReceiverAgree: the same OTLP bytes go to the agent's OTLP endpoint and, if it
// accepts them, through the real forwarder to the real receiver. The two must agree:
//
//   - what the agent accepts, the receiver accepts (the batch is never refused: the agent would
//     drop it), and delivers exactly the items pdata decodes from the bytes — or, when pdata
//     cannot decode them, nothing (the receiver counts the payload as otlp_undecodable);
//   - protobuf the agent refuses as malformed, pdata cannot decode either (never 400 valid OTLP).
func FuzzOTLPAgentAndReceiverAgree(f *testing.F) {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("seed")
	sp.SetTraceID([16]byte{1})
	sp.SetSpanID([8]byte{2})
	protoTraces, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	jsonTraces, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("seed.gauge")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(7)
	protoMetrics, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("seed")
	jsonLogs, _ := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	f.Add(protoTraces, uint8(0), false)
	f.Add(jsonTraces, uint8(0), true)
	f.Add(protoMetrics, uint8(1), false)
	f.Add(jsonLogs, uint8(2), true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, uint8(0), false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x"}]}]}]}`), uint8(0), true)
	p := startPair(f)
	iteration := 0
	f.Fuzz(func(t *testing.T, body []byte, sig uint8, isJSON bool) {
		// Each input is an environment of its own: what the receiver still holds of an earlier
		// one (handler spans waiting for their invocation) never counts for this one.
		iteration++
		instance := fmt.Sprintf("env-%d", iteration)
		p.fwd.SetResource([]byte(`{"faas.name":"fuzz","faas.instance":"` + instance + `","cloud.availability_zone":"use1-az1"}`))
		p.traces.Reset()
		p.metrics.Reset()
		p.logs.Reset()
		signal := []string{"traces", "metrics", "logs"}[sig%3]
		ct := "application/x-protobuf"
		if isJSON {
			ct = "application/json"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/"+signal, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		before := p.fwd.Stats()
		p.endpoint.ServeHTTP(w, req)
		n, ok, comparable := decoded(signal, isJSON, body)
		switch w.Code {
		case http.StatusOK:
		case http.StatusBadRequest:
			if ok && !isJSON {
				t.Fatalf("the agent refused %s protobuf that pdata decodes (%d items): %s", signal, n, w.Body)
			}
			return
		default:
			t.Fatalf("the agent answered %d: %s", w.Code, w.Body)
		}
		if p.fwd.Stats().OTLPReceived == before.OTLPReceived {
			return // an empty request: nothing forwarded
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.fwd.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		after := p.fwd.Stats()
		if after.EventsDropped != before.EventsDropped || after.EventsForwarded != before.EventsForwarded+1 {
			t.Fatalf("the receiver refused a batch carrying what the agent accepted: %+v", after)
		}
		got := p.delivered(signal, instance)
		switch {
		case !ok && got != 0:
			t.Fatalf("pdata cannot decode the %s payload, yet the receiver delivered %d items", signal, got)
		case ok && comparable && got != n:
			t.Fatalf("the receiver delivered %d %s items; pdata decodes %d from the bytes the agent accepted", got, signal, n)
		}
	})
}
