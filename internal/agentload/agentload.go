// Package agentload generates what the collector testbed sends: agent batches in the
// agent→receiver wire format (docs/otel-mapping.md), each a run of complete invocations —
// platform.start, function log lines of 100 B to 1 KB, platform.runtimeDone with its phase spans,
// platform.report — with a new agent seq and new request ids per batch, so that no batch is a
// retry and every invocation is new to the receiver's correlation table; and the same
// invocations as OTLP (the spans and log records the receiver makes of them), the anchor that
// the collector's own otlp receiver is measured with.
package agentload

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// LinesPerInvocation is the number of function log lines per invocation; their sizes cycle
// through LineSizes.
const LinesPerInvocation = 4

// LineSizes are the sizes in bytes of the function log lines' messages.
var LineSizes = [LinesPerInvocation]int{100, 300, 600, 1000}

// SpansPerInvocation is what the receiver makes of one invocation's platform events: the
// invocation span, responseLatency and responseDuration (from runtimeDone), runtimeOverhead
// and extensionOverhead.
const SpansPerInvocation = 5

// EventsPerInvocation is the Telemetry API events of one invocation in a batch.
const EventsPerInvocation = 3 + LinesPerInvocation

// IDMark is the fixed-width place of a request id's last 12 digits in a Template's events: every
// batch gets new ones. SeqMark is the place of the agent's seq.
const IDMark, SeqMark = "IIIIIIIIIIII", "SSSSSSSSSSSS"

// Template is an agent batch body (wire format version 1) with fixed-width places for its seq and
// its request ids, patched in each batch so that no batch is a retry and every invocation is new.
type Template struct {
	body   []byte
	ids    []int // offsets of the IDMarks, the same number per invocation
	perInv int
	seqAt  int
	seq    int64
}

// NewTemplate makes a template of the events of invocations invocations (each writes its request
// id as some prefix followed by IDMark) under the environment's resource.
func NewTemplate(invocations int, events []string, resource map[string]any) *Template {
	res, _ := json.Marshal(resource)
	body := `{"resource":` + string(res) + `,"agent":{"name":"azlens-agent","version":"0.1.0","seq":` + SeqMark +
		`,"events_received":1000,"events_forwarded":1000,"batches_sent":10},"events":[` + strings.Join(events, ",") + `]}`
	t := &Template{body: []byte(body), seqAt: strings.Index(body, SeqMark)}
	for off := 0; ; {
		i := strings.Index(body[off:], IDMark)
		if i < 0 {
			break
		}
		t.ids = append(t.ids, off+i)
		off += i + len(IDMark)
	}
	t.perInv = max(1, len(t.ids)/max(1, invocations))
	return t
}

// Next returns a new batch body: the next seq and new request ids.
func (t *Template) Next() []byte {
	t.seq++
	body := append([]byte(nil), t.body...)
	copy(body[t.seqAt:], fmt.Sprintf("%-12d", t.seq))
	for k, off := range t.ids {
		copy(body[off:], fmt.Sprintf("%012d", t.seq*1_000_000+int64(k/t.perInv)))
	}
	return body
}

// Generator makes batches of a fixed number of invocations for one execution environment.
type Generator struct {
	*Template
	invocations int
}

// New returns a generator of batches of invocations invocations for the environment instance
// (faas.instance) in zone.
func New(invocations int, instance, zone string) *Generator {
	var ev []string
	for range invocations {
		id := "6f7f0961-5f8a-4b1e-9f2c-" + IDMark
		trace := `"tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}`
		ev = append(ev, `{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST",`+trace+`}}`)
		for i, n := range LineSizes {
			head := fmt.Sprintf("2026-03-01T10:00:00.00%dZ\t%s\tINFO\t", i+1, id)
			ev = append(ev, fmt.Sprintf(`{"time":"2026-03-01T10:00:00.00%dZ","type":"function","record":%q}`, i+1, head+message(n-len(head))+"\n"))
		}
		ev = append(ev,
			`{"time":"2026-03-01T10:00:00.020Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":20.5,"producedBytes":15},"spans":[{"name":"responseLatency","start":"2026-03-01T10:00:00.000Z","durationMs":18.2},{"name":"responseDuration","start":"2026-03-01T10:00:00.018Z","durationMs":0.3}],`+trace+`}}`,
			`{"time":"2026-03-01T10:00:00.022Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":22.0,"billedDurationMs":23,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`)
	}
	return &Generator{Template: NewTemplate(invocations, ev, Resource(instance, zone)), invocations: invocations}
}

// Resource is the environment's resource as the agent sends it.
func Resource(instance, zone string) map[string]any {
	return map[string]any{
		"cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "us-east-1",
		"cloud.account.id": "123456789012", "cloud.availability_zone": zone,
		"faas.name": "fn", "faas.version": "$LATEST", "faas.instance": instance, "faas.max_memory": 134217728,
	}
}

// message is n bytes of log text (at least a few).
func message(n int) string {
	const words = "processing order o-42 for customer c-7: charged card, reserved stock, queued the email; "
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words)
	}
	return b.String()[:max(n, 8)]
}

// Events is the number of Telemetry API events in one batch.
func (g *Generator) Events() int { return g.invocations * EventsPerInvocation }

// Invocations is the number of invocations in one batch.
func (g *Generator) Invocations() int { return g.invocations }

// OTLP returns the same invocations as OTLP/HTTP protobuf request bodies: the spans and the log
// records the receiver would make of one batch, under the environment's resource.
func OTLP(invocations int, instance, zone string) (traces, logs []byte, err error) {
	td := ptrace.NewTraces()
	ld := plog.NewLogs()
	rs := td.ResourceSpans().AppendEmpty()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range Resource(instance, zone) {
		switch v := v.(type) {
		case string:
			rs.Resource().Attributes().PutStr(k, v)
			rl.Resource().Attributes().PutStr(k, v)
		case int:
			rs.Resource().Attributes().PutInt(k, int64(v))
			rl.Resource().Attributes().PutInt(k, int64(v))
		}
	}
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	records := rl.ScopeLogs().AppendEmpty().LogRecords()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range invocations {
		id := fmt.Sprintf("6f7f0961-5f8a-4b1e-9f2c-%012d", i)
		var tid pcommon.TraceID
		copy(tid[:], fmt.Sprintf("%016x", i))
		parent := pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
		for j, name := range [SpansPerInvocation]string{"fn", "responseLatency", "responseDuration", "runtimeOverhead", "extensionOverhead"} {
			sp := spans.AppendEmpty()
			sp.SetName(name)
			sp.SetTraceID(tid)
			sp.SetSpanID(pcommon.SpanID{byte(i >> 8), byte(i), byte(j), 1, 2, 3, 4, 5})
			if j > 0 {
				sp.SetParentSpanID(parent)
			} else {
				sp.SetKind(ptrace.SpanKindServer)
				sp.Attributes().PutStr("faas.invocation_id", id)
				sp.Attributes().PutBool("faas.coldstart", false)
				sp.Attributes().PutStr("faas.trigger", "other")
			}
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(20 * time.Millisecond)))
			sp.Status().SetCode(ptrace.StatusCodeOk)
		}
		for j, n := range LineSizes {
			lr := records.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(j+1) * time.Millisecond)))
			lr.SetSeverityText("INFO")
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr(message(n - 60))
			lr.SetTraceID(tid)
			lr.SetSpanID(parent)
			lr.Attributes().PutStr("faas.invocation_id", id)
		}
	}
	if traces, err = ptraceotlp.NewExportRequestFromTraces(td).MarshalProto(); err != nil {
		return nil, nil, fmt.Errorf("marshal traces: %w", err)
	}
	if logs, err = plogotlp.NewExportRequestFromLogs(ld).MarshalProto(); err != nil {
		return nil, nil, fmt.Errorf("marshal logs: %w", err)
	}
	return traces, logs, nil
}
