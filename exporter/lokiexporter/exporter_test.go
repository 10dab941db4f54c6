package lokiexporter

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// syncConfig pushes inside ConsumeLogs (no queue), so a test sees the result
// of the push, and retries fast so retry tests take milliseconds.
func syncConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.TenantID = "team-a"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.InitialInterval = time.Millisecond
	cfg.BackOffConfig.MaxInterval = 5 * time.Millisecond
	cfg.BackOffConfig.RandomizationFactor = 0
	cfg.BackOffConfig.MaxElapsedTime = 20 * time.Second
	return cfg
}

func startExporter(t *testing.T, cfg *Config, tel *componenttest.Telemetry) exporter.Logs {
	t.Helper()
	set := exportertest.NewNopSettings(metadata.Type)
	if tel != nil {
		set.TelemetrySettings = tel.NewTelemetrySettings()
	}
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return exp
}

// sampleLogs is two functions in two zones. The first function's records
// arrive out of order, carry trace context and an invocation id, and one has
// a map body and one no timestamp but an observed one.
func sampleLogs() plog.Logs {
	ld := plog.NewLogs()

	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("service.name", "checkout")
	res.PutStr("faas.name", "checkout")
	res.PutStr("cloud.availability_zone", "use1-az1")
	res.PutStr("faas.instance", "2026/11/26/[$LATEST]0123456789abcdef")
	res.PutStr("cloud.region", "us-east-1")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()

	later := lrs.AppendEmpty()
	later.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(5 * time.Second)))
	later.Body().SetStr("later line")
	later.SetSeverityNumber(plog.SeverityNumberInfo)
	later.SetSeverityText("INFO")
	later.Attributes().PutStr("faas.invocation_id", "req-2")

	first := lrs.AppendEmpty()
	first.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(2 * time.Second)))
	first.Body().SetStr("first line")
	first.SetSeverityNumber(plog.SeverityNumberInfo2)
	first.SetTraceID(pcommon.TraceID{0x5f, 0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
	first.SetSpanID(pcommon.SpanID{0xaa, 1, 2, 3, 4, 5, 6, 7})
	first.Attributes().PutStr("faas.invocation_id", "req-1")
	first.Attributes().PutStr("type", "function")

	structured := lrs.AppendEmpty()
	structured.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(1 * time.Second)))
	m := structured.Body().SetEmptyMap()
	m.PutStr("message", "payment declined")
	m.PutInt("amount", 42)
	structured.SetSeverityText("ERROR")
	structured.Attributes().PutStr("faas.invocation_id", "req-1")
	structured.Attributes().PutInt("http.status", 502)

	observed := lrs.AppendEmpty()
	observed.SetObservedTimestamp(pcommon.NewTimestampFromTime(t0.Add(3 * time.Second)))
	observed.Body().SetStr("no timestamp of its own")
	observed.SetSeverityNumber(plog.SeverityNumberWarn)

	rl2 := ld.ResourceLogs().AppendEmpty()
	rl2.Resource().Attributes().PutStr("service.name", "payments")
	rl2.Resource().Attributes().PutStr("cloud.availability_zone", "use1-az2")
	r := rl2.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	r.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	r.Body().SetStr("payments line")
	return ld
}

type gotEntry struct {
	TS       time.Time
	Line     string
	Metadata map[string]string
}

type gotStream struct {
	Labels  map[string]string
	Entries []gotEntry
}

// streamsOf flattens a decoded push for cmp, ordered by labels string.
func streamsOf(t *testing.T, p receivedPush) []gotStream {
	t.Helper()
	var streams []struct {
		key string
		s   gotStream
	}
	for _, s := range p.req.Streams {
		ls, err := parseLabels(s.Labels)
		if err != nil {
			t.Fatalf("labels %q: %v", s.Labels, err)
		}
		g := gotStream{Labels: ls}
		for _, e := range s.Entries {
			var md map[string]string
			if len(e.StructuredMetadata) > 0 {
				md = map[string]string{}
				for _, kv := range e.StructuredMetadata {
					md[kv.Name] = kv.Value
				}
			}
			g.Entries = append(g.Entries, gotEntry{TS: e.Timestamp.UTC(), Line: e.Line, Metadata: md})
		}
		streams = append(streams, struct {
			key string
			s   gotStream
		}{s.Labels, g})
	}
	sort.Slice(streams, func(i, j int) bool { return streams[i].key < streams[j].key })
	out := make([]gotStream, len(streams))
	for i := range streams {
		out[i] = streams[i].s
	}
	return out
}

func TestPushLabelsMetadataOrderAndLines(t *testing.T) {
	loki := newStandInLoki(t)
	exp := startExporter(t, syncConfig(loki.srv.URL), nil)

	if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
		t.Fatalf("consume: %v", err)
	}
	pushes := loki.waitPushes(1)
	if len(pushes) != 1 {
		t.Fatalf("got %d pushes, want 1", len(pushes))
	}
	p := pushes[0]
	if p.decoded != nil {
		t.Fatalf("stand-in Loki refused the push: %v", p.decoded)
	}
	if p.path != "/loki/api/v1/push" {
		t.Errorf("path %q, want /loki/api/v1/push appended to a bare endpoint", p.path)
	}
	if p.tenant != "team-a" {
		t.Errorf("X-Scope-OrgID %q, want team-a", p.tenant)
	}

	az1 := func(level string) map[string]string {
		return map[string]string{"service_name": "checkout", "faas_name": "checkout", "cloud_availability_zone": "use1-az1", "level": level}
	}
	want := []gotStream{
		{Labels: az1("error"), Entries: []gotEntry{
			{TS: t0.Add(time.Second), Line: `{"amount":42,"message":"payment declined"}`,
				Metadata: map[string]string{"faas_invocation_id": "req-1", "http_status": "502"}},
		}},
		{Labels: az1("info"), Entries: []gotEntry{
			{TS: t0.Add(2 * time.Second), Line: "first line", Metadata: map[string]string{
				"trace_id": "5f1a0102030405060708090a0b0c0d0e", "span_id": "aa01020304050607",
				"faas_invocation_id": "req-1", "type": "function"}},
			{TS: t0.Add(5 * time.Second), Line: "later line", Metadata: map[string]string{"faas_invocation_id": "req-2"}},
		}},
		{Labels: az1("warn"), Entries: []gotEntry{
			{TS: t0.Add(3 * time.Second), Line: "no timestamp of its own"},
		}},
		{Labels: map[string]string{"service_name": "payments", "cloud_availability_zone": "use1-az2", "level": "unknown"}, Entries: []gotEntry{
			{TS: t0, Line: "payments line"},
		}},
	}
	if diff := cmp.Diff(want, streamsOf(t, p)); diff != "" {
		t.Errorf("pushed streams (-want +got):\n%s", diff)
	}
	for _, s := range p.req.Streams {
		if strings.Contains(s.Labels, "faas_instance") || strings.Contains(s.Labels, "2026/11/26") {
			t.Errorf("high-cardinality faas.instance leaked into labels %s", s.Labels)
		}
	}
}

func TestPushErrorMapping(t *testing.T) {
	tests := []struct {
		name      string
		responses []scriptedResponse
		wantPush  int  // requests Loki sees
		permanent bool // ConsumeLogs returns a permanent error
		ok        bool // ConsumeLogs returns nil
	}{
		{"400 is permanent, not retried", []scriptedResponse{{status: 400, body: "entry too far behind"}}, 1, true, false},
		{"413 is permanent", []scriptedResponse{{status: 413, body: "too large"}}, 1, true, false},
		{"429 retried then accepted", []scriptedResponse{{status: 429, body: "ingestion rate limit exceeded"}}, 2, false, true},
		{"503 twice retried then accepted", []scriptedResponse{{status: 503}, {status: 503}}, 3, false, true},
		{"500 retried then accepted", []scriptedResponse{{status: 500, body: "boom"}}, 2, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
			loki := newStandInLoki(t, tt.responses...)
			exp := startExporter(t, syncConfig(loki.srv.URL), tel)

			err := exp.ConsumeLogs(context.Background(), sampleLogs())
			pushes := loki.waitPushes(tt.wantPush)
			if len(pushes) != tt.wantPush {
				t.Errorf("Loki saw %d pushes, want %d", len(pushes), tt.wantPush)
			}
			switch {
			case tt.ok && err != nil:
				t.Fatalf("consume: %v", err)
			case tt.permanent && (err == nil || !consumererror.IsPermanent(err)):
				t.Fatalf("consume: want a permanent error, got %v", err)
			}
			if tt.permanent {
				if !strings.Contains(err.Error(), tt.responses[0].body) {
					t.Errorf("error %q does not carry Loki's reason %q", err, tt.responses[0].body)
				}
				assertRejected(t, tel, int64(sampleLogs().LogRecordCount()), tt.responses[0].status)
			}
			if tt.ok {
				// The retried request is the same push, whole.
				first, last := streamsOf(t, pushes[0]), streamsOf(t, pushes[len(pushes)-1])
				if diff := cmp.Diff(first, last); diff != "" {
					t.Errorf("retried push differs (-first +last):\n%s", diff)
				}
				if _, err := tel.GetMetric(rejectedMetric); err == nil {
					t.Errorf("%s recorded although nothing was rejected", rejectedMetric)
				}
			}
		})
	}
}

func assertRejected(t *testing.T, tel *componenttest.Telemetry, want int64, status int) {
	t.Helper()
	m, err := tel.GetMetric(rejectedMetric)
	if err != nil {
		t.Fatalf("%s: %v", rejectedMetric, err)
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok || len(sum.DataPoints) != 1 || !sum.IsMonotonic {
		t.Fatalf("%s: want one monotonic int64 sum point, got %#v", rejectedMetric, m.Data)
	}
	dp := sum.DataPoints[0]
	if dp.Value != want {
		t.Errorf("%s = %d, want %d", rejectedMetric, dp.Value, want)
	}
	if v, ok := dp.Attributes.Value("http.response.status_code"); !ok || v.AsInt64() != int64(status) {
		t.Errorf("%s status attribute = %v, want %d", rejectedMetric, v.Emit(), status)
	}
}

// TestRetryAfterHonoured checks the 429's Retry-After, not the 1 ms backoff,
// spaces the attempts. It costs the test one real second: the exporter's
// retry timer runs inside exporterhelper on the real clock, and the HTTP
// round trip rules out testing/synctest.
func TestRetryAfterHonoured(t *testing.T) {
	loki := newStandInLoki(t, scriptedResponse{status: 429, retryAfter: "1", body: "slow down"})
	exp := startExporter(t, syncConfig(loki.srv.URL), nil)

	if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
		t.Fatalf("consume: %v", err)
	}
	pushes := loki.waitPushes(2)
	if gap := pushes[1].at.Sub(pushes[0].at); gap < 900*time.Millisecond {
		t.Errorf("retry came %v after the 429, want about the 1s Retry-After", gap)
	}
}

func TestQueuedPushFlushedOnShutdown(t *testing.T) {
	loki := newStandInLoki(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = loki.srv.URL + "/custom/push"
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatalf("start: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
			t.Fatalf("consume %d: %v", i, err)
		}
	}
	// The batch (min 8192 records) is not full: shutdown must flush it.
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	entries := 0
	for _, p := range loki.received() {
		if p.decoded != nil {
			t.Fatalf("stand-in Loki refused a push: %v", p.decoded)
		}
		if p.path != "/custom/push" {
			t.Errorf("path %q, want the endpoint's own /custom/push", p.path)
		}
		if p.tenant != "" {
			t.Errorf("X-Scope-OrgID %q sent without tenant_id", p.tenant)
		}
		for _, s := range p.req.Streams {
			entries += len(s.Entries)
		}
	}
	if want := 3 * sampleLogs().LogRecordCount(); entries != want {
		t.Errorf("Loki received %d entries, want %d", entries, want)
	}
}

func TestHeadersAndNoHTTPCompression(t *testing.T) {
	loki := newStandInLoki(t)
	cfg := syncConfig(loki.srv.URL)
	cfg.Headers.Set("X-Team", "lambda")
	exp := startExporter(t, cfg, nil)
	if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
		t.Fatalf("consume: %v", err)
	}
	p := loki.waitPushes(1)[0]
	if p.decoded != nil {
		t.Fatalf("stand-in Loki refused the push: %v", p.decoded)
	}
	if got := p.header.Get("X-Team"); got != "lambda" {
		t.Errorf("X-Team header %q, want lambda", got)
	}
}

func TestEmptyLogsSendNothing(t *testing.T) {
	loki := newStandInLoki(t)
	exp := startExporter(t, syncConfig(loki.srv.URL), nil)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatalf("consume: %v", err)
	}
	if n := len(loki.received()); n != 0 {
		t.Errorf("Loki saw %d pushes for no records", n)
	}
}

func TestUnreachableLokiIsRetryable(t *testing.T) {
	loki := newStandInLoki(t)
	url := loki.srv.URL
	loki.srv.Close() // nothing listens there any more
	cfg := syncConfig(url)
	cfg.BackOffConfig.Enabled = false
	exp := startExporter(t, cfg, nil)
	err := exp.ConsumeLogs(context.Background(), sampleLogs())
	if err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("want a retryable error from a dead endpoint, got %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	loki := newStandInLoki(t)
	cfg := syncConfig(loki.srv.URL)
	f := NewFactory()
	set := exportertest.NewNopSettings(metadata.Type)

	t.Run("shutdown without start", func(t *testing.T) {
		exp, err := f.CreateLogs(context.Background(), set, cfg)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})
	t.Run("start and shutdown twice", func(t *testing.T) {
		for round := 0; round < 2; round++ {
			exp, err := f.CreateLogs(context.Background(), set, cfg)
			if err != nil {
				t.Fatalf("round %d create: %v", round, err)
			}
			if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
				t.Fatalf("round %d start: %v", round, err)
			}
			if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
				t.Fatalf("round %d consume: %v", round, err)
			}
			for i := 0; i < 2; i++ {
				if err := exp.Shutdown(context.Background()); err != nil {
					t.Fatalf("round %d shutdown %d: %v", round, i, err)
				}
			}
		}
	})
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type() != metadata.Type || f.Type().String() != "loki" {
		t.Errorf("type %q, want loki", f.Type())
	}
	if got := f.LogsStability(); got.String() != "Alpha" {
		t.Errorf("logs stability %v, want alpha", got)
	}
	if _, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(metadata.Type), f.CreateDefaultConfig()); err == nil {
		t.Error("traces should not be supported")
	}
}

func TestRejectionLoggedOnce(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	loki := newStandInLoki(t, scriptedResponse{status: 400, body: "bad one"}, scriptedResponse{status: 400, body: "bad two"})
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, syncConfig(loki.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	for i := 0; i < 2; i++ {
		if err := exp.ConsumeLogs(context.Background(), sampleLogs()); !consumererror.IsPermanent(err) {
			t.Fatalf("push %d: want a permanent error, got %v", i, err)
		}
	}
	warns := logs.FilterMessageSnippet("loki rejected a push").FilterLevelExact(zap.WarnLevel).All()
	debugs := logs.FilterMessageSnippet("loki rejected a push").FilterLevelExact(zap.DebugLevel).All()
	if len(warns) != 1 || len(debugs) != 1 {
		t.Fatalf("got %d warnings and %d debug lines about rejections, want 1 and 1", len(warns), len(debugs))
	}
	if !strings.Contains(warns[0].ContextMap()["error"].(string), "bad one") {
		t.Errorf("warning does not carry Loki's reason: %v", warns[0].ContextMap())
	}
}
