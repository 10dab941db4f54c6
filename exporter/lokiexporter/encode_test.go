package lokiexporter

import (
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/google/go-cmp/cmp"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/azlens/azlens/internal/clock/clocktest"
)

func fixedNow() time.Time { return t0.Add(time.Hour) }

// fixedClock reads fixedNow.
var fixedClock = clocktest.NewClock(fixedNow())

func TestEncodeFallbackLabelAndExportTime(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Labels.Severity = ""
	enc := newEncoder(cfg, fixedClock)

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("nobody timed me")

	req, n := enc.encode(ld)
	if n != 1 || len(req.Streams) != 1 {
		t.Fatalf("got %d entries in %d streams, want 1 in 1", n, len(req.Streams))
	}
	s := req.Streams[0]
	if s.Labels != `{service_name="unknown_service"}` {
		t.Errorf("labels %s, want Loki's fallback {service_name=\"unknown_service\"}", s.Labels)
	}
	if !s.Entries[0].Timestamp.Equal(fixedNow()) {
		t.Errorf("timestamp %v, want the export time %v", s.Entries[0].Timestamp, fixedNow())
	}
}

func TestEncodeLabelValuesEscaped(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Labels.LogAttributes = map[string]string{"type": "type"}
	enc := newEncoder(cfg, fixedClock)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "say \"hi\"\\\n\x00")
	rl.Resource().Attributes().PutStr("faas.name", string([]byte{'f', 0xff, 'n'}))
	rl.Resource().Attributes().PutInt("cloud.availability_zone", 7) // not a string: rendered
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.Attributes().PutStr("type", "platform.start")

	req, _ := enc.encode(ld)
	got, err := parseLabels(req.Streams[0].Labels)
	if err != nil {
		t.Fatalf("labels %s do not parse: %v", req.Streams[0].Labels, err)
	}
	want := map[string]string{
		"service_name":            "say \"hi\"\\\n\x00",
		"faas_name":               "f\uFFFDn",
		"cloud_availability_zone": "7",
		"type":                    "platform.start",
		"level":                   "unknown",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	// A label attribute is not repeated as structured metadata.
	for _, md := range req.Streams[0].Entries[0].StructuredMetadata {
		if md.Name == "type" {
			t.Errorf("label attribute %q also sent as structured metadata", md.Name)
		}
	}
}

func TestEncodeStructuredMetadataChoices(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.StructuredMetadata.AllLogAttributes = false
	cfg.StructuredMetadata.Attributes["cloud.region"] = "region"
	enc := newEncoder(cfg, fixedClock)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("cloud.region", "us-east-1")
	rl.Resource().Attributes().PutStr("faas.invocation_id", "from-resource")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(t0))
	lr.Attributes().PutStr("faas.invocation_id", "from-record")
	lr.Attributes().PutStr("requestId", "ignored when all_log_attributes is false")

	req, _ := enc.encode(ld)
	want := push.LabelsAdapter{
		{Name: "region", Value: "us-east-1"},
		{Name: "faas_invocation_id", Value: "from-record"},
	}
	if diff := cmp.Diff(want, req.Streams[0].Entries[0].StructuredMetadata); diff != "" {
		t.Errorf("structured metadata (-want +got):\n%s", diff)
	}
}

func TestSeverityLevel(t *testing.T) {
	tests := []struct {
		num  plog.SeverityNumber
		text string
		want string
	}{
		{plog.SeverityNumberTrace, "", "trace"},
		{plog.SeverityNumberDebug4, "", "debug"},
		{plog.SeverityNumberInfo, "whatever", "info"},
		{plog.SeverityNumberWarn3, "", "warn"},
		{plog.SeverityNumberError, "INFO", "error"}, // the number wins
		{plog.SeverityNumberFatal4, "", "fatal"},
		{plog.SeverityNumberUnspecified, "WARNING", "warn"},
		{plog.SeverityNumberUnspecified, "Information", "info"},
		{plog.SeverityNumberUnspecified, "CRITICAL", "fatal"},
		{plog.SeverityNumberUnspecified, "user-defined-42", "unknown"},
		{plog.SeverityNumberUnspecified, "", "unknown"},
	}
	for _, tt := range tests {
		if got := severityLevel(tt.num, tt.text); got != tt.want {
			t.Errorf("severityLevel(%v, %q) = %q, want %q", tt.num, tt.text, got, tt.want)
		}
	}
}

func TestMetadataName(t *testing.T) {
	for in, want := range map[string]string{
		"requestId":           "requestId",
		"http.status":         "http_status",
		"1st":                 "_1st",
		"":                    "_",
		"a-b c":               "a_b_c",
		"__reserved":          "__reserved",
		"ünïcode":             "__n__code",
		"aws.lambda.log.type": "aws_lambda_log_type",
	} {
		if got := metadataName(in); got != want {
			t.Errorf("metadataName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBodyLine(t *testing.T) {
	v := pcommon.NewValueEmpty()
	if got := bodyLine(v); got != "" {
		t.Errorf("empty body %q", got)
	}
	v.SetEmptySlice().AppendEmpty().SetStr("a")
	if got := bodyLine(v); got != `["a"]` {
		t.Errorf("slice body %q, want JSON", got)
	}
	v.SetDouble(1.5)
	if got := bodyLine(v); got != "1.5" {
		t.Errorf("double body %q", got)
	}
}

func TestMarshalSnappyRoundTrip(t *testing.T) {
	enc := newEncoder(createDefaultConfig().(*Config), fixedClock)
	req, _ := enc.encode(sampleLogs())
	for i := 0; i < 2; i++ { // the second call reuses the pooled buffer
		body, err := enc.marshalSnappy(&req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := snappy.Decode(nil, body)
		if err != nil {
			t.Fatalf("snappy block decode: %v", err)
		}
		var back push.PushRequest
		if err := back.Unmarshal(raw); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if !cmp.Equal(req.Streams, back.Streams, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })) {
			t.Errorf("round trip %d changed the request", i)
		}
	}
}

// FuzzEncode pushes arbitrary attribute, body and severity values (which reach
// the exporter from functions' own output) through the encoder and checks the
// labels string always parses back to the values, and the request survives a
// snappy + protobuf round trip.
func FuzzEncode(f *testing.F) {
	f.Add("checkout", "use1-az1", "hello", "INFO", int32(9), "http.status", "502")
	f.Add("say \"hi\"\\", "\x00\xff", "", "", int32(-3), "", "")
	f.Add("", "", "{}", "warning", int32(99), "1st", "\n")
	f.Fuzz(func(t *testing.T, service, zone, body, sevText string, sevNum int32, attrKey, attrVal string) {
		enc := newEncoder(createDefaultConfig().(*Config), fixedClock)
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", service)
		rl.Resource().Attributes().PutStr("cloud.availability_zone", zone)
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr(body)
		lr.SetSeverityText(sevText)
		lr.SetSeverityNumber(plog.SeverityNumber(sevNum))
		lr.Attributes().PutStr(attrKey, attrVal)

		req, n := enc.encode(ld)
		if n != 1 || len(req.Streams) != 1 {
			t.Fatalf("%d entries in %d streams", n, len(req.Streams))
		}
		ls, err := parseLabels(req.Streams[0].Labels)
		if err != nil {
			t.Fatalf("labels %q: %v", req.Streams[0].Labels, err)
		}
		if want := strings.ToValidUTF8(service, "\uFFFD"); ls["service_name"] != want {
			t.Fatalf("service_name %q, want %q", ls["service_name"], want)
		}
		if len(ls) == 0 {
			t.Fatal("a stream without labels")
		}
		for name := range ls {
			if !validLabelName(name) {
				t.Fatalf("invalid label name %q", name)
			}
		}
		raw, err := enc.marshalSnappy(&req)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := snappy.Decode(nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		var back push.PushRequest
		if err := back.Unmarshal(dec); err != nil {
			t.Fatal(err)
		}
		if back.Streams[0].Entries[0].Line != body {
			t.Fatalf("line %q, want %q", back.Streams[0].Entries[0].Line, body)
		}
	})
}

func TestEncodeStreamsMergeAcrossResources(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Labels.Severity = ""
	cfg.Labels.LogAttributes = map[string]string{"type": "type"} // the one record-level label
	enc := newEncoder(cfg, fixedClock)

	ld := plog.NewLogs()
	for r := 0; r < 2; r++ {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "checkout")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for i, typ := range []string{"function", "platform.report", "function"} {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(10*(1-r)+i) * time.Second)))
			lr.Attributes().PutStr("type", typ)
		}
	}
	req, n := enc.encode(ld)
	got := map[string]int{}
	for _, s := range req.Streams {
		got[s.Labels] = len(s.Entries)
		for i := 1; i < len(s.Entries); i++ {
			if s.Entries[i].Timestamp.Before(s.Entries[i-1].Timestamp) {
				t.Errorf("stream %s: entry %d out of order", s.Labels, i)
			}
		}
	}
	want := map[string]int{
		`{service_name="checkout", type="function"}`:        4,
		`{service_name="checkout", type="platform.report"}`: 2,
	}
	if n != 6 {
		t.Errorf("%d entries, want 6", n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries per stream (-want +got):\n%s", diff)
	}
}
