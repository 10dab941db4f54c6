package lokiexporter

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/azlens/azlens/exporter/lokiexporter/internal/metadata"
)

func TestPushURL(t *testing.T) {
	for endpoint, want := range map[string]string{
		"http://loki:3100":                                 "http://loki:3100/loki/api/v1/push",
		"http://loki:3100/":                                "http://loki:3100/loki/api/v1/push",
		"https://loki.example.com/loki/api/v1/push":        "https://loki.example.com/loki/api/v1/push",
		"http://victorialogs:9428/insert":                  "http://victorialogs:9428/insert/loki/api/v1/push",
		"http://victorialogs:9428/insert/":                 "http://victorialogs:9428/insert/loki/api/v1/push",
		"http://victorialogs:9428/insert/loki/api/v1/push": "http://victorialogs:9428/insert/loki/api/v1/push",
		"https://gw.example.com/tenants/a%2Fb/logs":        "https://gw.example.com/tenants/a%2Fb/logs/loki/api/v1/push",
		"https://gw.example.com/api/prom/push":             "https://gw.example.com/api/prom/push",
		"http://loki:3100?x=1":                             "http://loki:3100/loki/api/v1/push?x=1",
	} {
		got, err := pushURL(endpoint)
		if err != nil || got != want {
			t.Errorf("pushURL(%q) = %q, %v; want %q", endpoint, got, err, want)
		}
	}
}

func TestWrongPath(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   bool
	}{
		{400, `unsupported path requested: "/insert"`, true},
		{404, "404 page not found", true},
		{405, "", true},
		{400, "entry for stream '{app=\"x\"}' has timestamp too old", false},
		{400, "error parsing labels", false},
		{413, "path too long", false},
		{500, "path", false},
	} {
		if got := wrongPath(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("wrongPath(%d, %q) = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

// TestBasePathPrefix: an endpoint with a path prefix (as VictoriaLogs mounts the push API under
// /insert) pushes to the prefix plus Loki's push path, and the stand-in accepts it there.
func TestBasePathPrefix(t *testing.T) {
	loki := newStandInLoki(t)
	exp := startExporter(t, syncConfig(loki.srv.URL+"/insert"), nil)
	if err := exp.ConsumeLogs(context.Background(), sampleLogs()); err != nil {
		t.Fatalf("consume: %v", err)
	}
	pushes := loki.waitPushes(1)
	if len(pushes) != 1 || pushes[0].path != "/insert/loki/api/v1/push" {
		t.Fatalf("pushes %+v, want one to /insert/loki/api/v1/push", pushes)
	}
}

// TestWrongPathIsLoud: a 400 naming the path (VictoriaLogs' answer to a push URL it does not
// serve) is counted, fails with the fix in the error, and is logged at error level once — even
// after an ordinary rejection already used up the warning.
func TestWrongPathIsLoud(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	loki := newStandInLoki(t,
		scriptedResponse{status: 400, body: "entry too far behind"},
		scriptedResponse{status: 400, body: `unsupported path requested: "/insert"`},
		scriptedResponse{status: 400, body: `unsupported path requested: "/insert"`},
	)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	exp, err := NewFactory().CreateLogs(context.Background(), set, syncConfig(loki.srv.URL+"/insert/api/push"))
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	var last error
	for i := range 3 {
		last = exp.ConsumeLogs(context.Background(), sampleLogs())
		if !consumererror.IsPermanent(last) {
			t.Fatalf("push %d: want a permanent error, got %v", i, last)
		}
	}
	if !strings.Contains(last.Error(), "looks wrong") || !strings.Contains(last.Error(), "/insert/api/push") {
		t.Errorf("error %q does not name the URL and the fix", last)
	}
	errs := logs.FilterMessageSnippet("wrong path").FilterLevelExact(zap.ErrorLevel).All()
	if len(errs) != 1 {
		t.Fatalf("%d error lines about the wrong path, want 1: %v", len(errs), logs.All())
	}
	assertRejected(t, tel, 3*int64(sampleLogs().LogRecordCount()), 400)
}
