package zonalshiftexporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

var (
	t0    = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	zones = []string{"use1-az1", "use1-az2", "use1-az4"}
)

// env is the real emulator zonal shift service behind an httptest server, at the root as the
// front door routes it, sharing a fake clock with the exporter under test. The exporter reaches
// it through the AWS SDK with static credentials from the environment (the default chain).
type env struct {
	t   *testing.T
	clk *clocktest.Clock
	svc *zonalshift.Service
	srv *httptest.Server
	tel *componenttest.Telemetry
	// fault, when set, may answer a request instead of the service (fault injection in front of
	// the real handler): return true when it wrote a response.
	fault func(w http.ResponseWriter, r *http.Request) bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	awsTestEnv(t)
	en := &env{t: t, clk: clocktest.NewClock(t0), tel: componenttest.NewTelemetry()}
	en.svc = zonalshift.New(zonalshift.Config{Clock: en.clk})
	en.svc.SetZones("fn", zones)
	api := en.svc.Handler()
	en.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if en.fault != nil && en.fault(w, r) {
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		en.srv.Close()
		en.svc.Close()
		_ = en.tel.Shutdown(context.Background())
	})
	return en
}

// awsTestEnv gives the AWS SDK's default chain static dummy credentials and a region, and nothing
// else: no shared files, no instance metadata.
func awsTestEnv(t testing.TB) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

func (en *env) config(mod func(*Config)) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = en.srv.URL
	// One attempt per call: the tests look at what the exporter makes of each answer; the SDK's
	// own retries are tested on their own.
	cfg.MaxAttempts = 1
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		en.t.Fatalf("config: %v", err)
	}
	return cfg
}

// exporter returns a started exporter (a fresh one is a collector restart: no memory).
func (en *env) exporter(mod func(*Config)) *shiftExporter {
	en.t.Helper()
	e, err := newShiftExporter(en.config(mod), en.tel.NewTelemetrySettings(), en.clk)
	if err != nil {
		en.t.Fatal(err)
	}
	if err := e.start(context.Background(), componenttest.NewNopHost()); err != nil {
		en.t.Fatal(err)
	}
	en.t.Cleanup(func() { _ = e.shutdown(context.Background()) })
	return e
}

func (en *env) push(e *shiftExporter, md pmetric.Metrics) {
	en.t.Helper()
	if err := e.pushMetrics(context.Background(), md); err != nil {
		en.t.Fatalf("push: %v", err)
	}
}

func (en *env) active(resource string) []zonalshift.ZonalShift {
	en.t.Helper()
	items, err := en.svc.List(zonalshift.ListFilter{Status: zonalshift.StatusActive, ResourceIdentifier: resource})
	if err != nil {
		en.t.Fatal(err)
	}
	return items
}

// counter reads one of the exporter's counters for one attribute value; 0 when never added.
func (en *env) counter(name, key, val string) int64 {
	en.t.Helper()
	m, err := en.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		en.t.Fatalf("%s is %T, want a sum", name, m.Data)
	}
	for _, dp := range sum.DataPoints {
		if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == val {
			return dp.Value
		}
	}
	return 0
}

// zoneState is what the processor says about one zone: evacuate (0/1) and traffic weight; a
// negative value leaves that gauge out.
type zoneState struct{ evacuate, weight float64 }

// decisionMetrics builds the processor's gauges for one function at time at.
func decisionMetrics(at time.Time, function string, states map[string]zoneState) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	if function != "" {
		rm.Resource().Attributes().PutStr(attrFunction, function)
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	ev := sm.Metrics().AppendEmpty()
	ev.SetName(metricEvacuate)
	evp := ev.SetEmptyGauge().DataPoints()
	tw := sm.Metrics().AppendEmpty()
	tw.SetName(metricTrafficWeight)
	twp := tw.SetEmptyGauge().DataPoints()
	for zone, s := range states {
		if s.evacuate >= 0 {
			dp := evp.AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			dp.Attributes().PutStr(attrZone, zone)
			dp.SetIntValue(int64(s.evacuate))
		}
		if s.weight >= 0 {
			dp := twp.AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
			dp.Attributes().PutStr(attrZone, zone)
			dp.SetDoubleValue(s.weight)
		}
	}
	return md
}

// evacuate says: keep zone out, the others are fine.
func evacuate(at time.Time, zone string) pmetric.Metrics {
	s := map[string]zoneState{}
	for _, z := range zones {
		s[z] = zoneState{0, 1}
	}
	s[zone] = zoneState{1, 0}
	return decisionMetrics(at, "fn", s)
}

// healthy says: every zone takes its full traffic.
func healthy(at time.Time) pmetric.Metrics {
	s := map[string]zoneState{}
	for _, z := range zones {
		s[z] = zoneState{0, 1}
	}
	return decisionMetrics(at, "fn", s)
}

// failback says: zone is back at weight w but not yet fully.
func failback(at time.Time, zone string, w float64) pmetric.Metrics {
	s := map[string]zoneState{}
	for _, z := range zones {
		s[z] = zoneState{0, 1}
	}
	s[zone] = zoneState{0, w}
	return decisionMetrics(at, "fn", s)
}
