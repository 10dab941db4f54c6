package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(env(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": "http://127.0.0.1:4319/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.CollectorEndpoint != "http://127.0.0.1:4319" || !c.Gzip || c.FlushMode != FlushAdaptive ||
		c.TelemetryTimeout != 25*time.Millisecond || c.TelemetryMaxBytes != 262144 ||
		c.SpoolDir != filepath.Join(os.TempDir(), "azlens-spool") || c.MemoryLimitBytes != 4<<20 || !c.SubscribesPlatform() ||
		len(c.TelemetryTypes) != 3 || c.ListenerPort != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = Load(env(nil))
	if err != nil || c.CollectorEndpoint != "" {
		t.Fatalf("no endpoint must mean disabled, not an error: %v", err)
	}
}

func TestValidValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"AZLENS_COLLECTOR_ENDPOINT":    "https://collector.example.com",
		"AZLENS_COLLECTOR_COMPRESSION": "none",
		"AZLENS_TELEMETRY_TYPES":       "function, platform,function",
		"AZLENS_TELEMETRY_MAX_BYTES":   "1048576",
		"AZLENS_FLUSH_MODE":            "END",
		"AZLENS_LISTENER_PORT":         "4243",
		"AZLENS_SPOOL_LIMIT_BYTES":     "0",
		"AZLENS_SPOOL_DIR":             "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Gzip || strings.Join(c.TelemetryTypes, ",") != "function,platform" || c.TelemetryMaxBytes != 1048576 ||
		c.FlushMode != FlushEnd || c.ListenerPort != 4243 || c.SpoolLimitBytes != 0 {
		t.Fatalf("%+v", c)
	}
}

func TestInvalidValuesNameTheirVariable(t *testing.T) {
	for name, value := range map[string]string{
		"AZLENS_COLLECTOR_ENDPOINT":             "ftp://x",
		"AZLENS_COLLECTOR_COMPRESSION":          "zstd",
		"AZLENS_COLLECTOR_TIMEOUT_MS":           "5",
		"AZLENS_COLLECTOR_INSECURE_SKIP_VERIFY": "maybe",
		"AZLENS_TELEMETRY_TYPES":                "platform,logs",
		"AZLENS_TELEMETRY_MAX_ITEMS":            "999",
		"AZLENS_TELEMETRY_MAX_BYTES":            "2097152",
		"AZLENS_TELEMETRY_TIMEOUT_MS":           "24",
		"AZLENS_LISTENER_PORT":                  "9001",
		"AZLENS_MEMORY_LIMIT_BYTES":             "1k",
		"AZLENS_SPOOL_LIMIT_BYTES":              "-1",
		"AZLENS_BATCH_MAX_EVENTS":               "0",
		"AZLENS_BATCH_MAX_BYTES":                "100",
		"AZLENS_BATCH_MAX_AGE_MS":               "0",
		"AZLENS_FLUSH_MODE":                     "sometimes",
		"AZLENS_FLUSH_INTERVAL_MS":              "1",
		"AZLENS_FLUSH_TIMEOUT_MS":               "0",
		"AZLENS_RETRY_INITIAL_MS":               "0",
		"AZLENS_RETRY_MAX_MS":                   "x",
		"AZLENS_LOG_LEVEL":                      "loud",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": "http://c:1", name: value}))
			if err == nil {
				t.Fatalf("%s=%q accepted", name, value)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, name+" must be ") {
				t.Fatalf("error %q does not start with the variable's name", msg)
			}
		})
	}
}

func TestRetryMaxBelowInitial(t *testing.T) {
	_, err := Load(env(map[string]string{"AZLENS_RETRY_INITIAL_MS": "500", "AZLENS_RETRY_MAX_MS": "100"}))
	if err == nil || !strings.Contains(err.Error(), "AZLENS_RETRY_MAX_MS") {
		t.Fatalf("error %v", err)
	}
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{"AZLENS_FLUSH_MODE": "x", "AZLENS_LISTENER_PORT": "80"}))
	if err == nil || !strings.Contains(err.Error(), "AZLENS_FLUSH_MODE") || !strings.Contains(err.Error(), "AZLENS_LISTENER_PORT") {
		t.Fatalf("error %v", err)
	}
}

// TestPlainHTTPOnlyToLoopback: batches carry the function's logs and the bearer token, so plain
// http is allowed only to the collector beside the function unless the user opts in.
func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	for _, ok := range []string{
		"http://127.0.0.1:4319", "http://127.3.2.1:4319", "http://localhost:4319", "http://[::1]:4319",
		"http://sandbox.localdomain:4319", "https://10.0.1.20:4319", "https://collector.example.com",
	} {
		if _, err := Load(env(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": ok})); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.1.20:4319", "http://collector.example.com", "http://0.0.0.0:4319", "http://[2001:db8::1]:4319"} {
		_, err := Load(env(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": bad}))
		if err == nil || !strings.Contains(err.Error(), "AZLENS_COLLECTOR_ENDPOINT") || !strings.Contains(err.Error(), "AZLENS_COLLECTOR_INSECURE=true") {
			t.Errorf("%s: want an error naming the endpoint and the opt-in, got %v", bad, err)
		}
		c, err := Load(env(map[string]string{"AZLENS_COLLECTOR_ENDPOINT": bad, "AZLENS_COLLECTOR_INSECURE": "true"}))
		if err != nil || c.CollectorEndpoint != bad || !c.Insecure {
			t.Errorf("%s with AZLENS_COLLECTOR_INSECURE=true: %+v, %v", bad, c, err)
		}
	}
	if _, err := Load(env(map[string]string{"AZLENS_COLLECTOR_INSECURE": "perhaps"})); err == nil || !strings.Contains(err.Error(), "AZLENS_COLLECTOR_INSECURE") {
		t.Errorf("a bad AZLENS_COLLECTOR_INSECURE must name itself: %v", err)
	}
}
