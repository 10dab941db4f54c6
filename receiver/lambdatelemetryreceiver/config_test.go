package lambdatelemetryreceiver

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:5319"
	custom.MaxRequestBodySize = 8 << 20
	custom.ResourceAttributes = map[string]string{"cloud.provider": "aws", "cloud.availability_zone": "use1-az1", "faas.name": "fn"}
	custom.CorrelationTimeout = 90 * time.Second
	custom.MaxPendingInvocations = 500
	custom.MaxEnvironments = 200
	custom.EnvironmentIdleTimeout = 0
	custom.InsecureAllowUnauthenticated = true
	dedupe := component.MustNewIDWithName("file_storage", "dedupe")
	custom.StorageID = &dedupe
	authenticated := createDefaultConfig().(*Config)
	authenticated.NetAddr.Endpoint = "0.0.0.0:4319"
	authenticated.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewID("bearertokenauth")}})

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
		{id: component.NewIDWithName(metadata.Type, "zero_timeout"), wantErr: "correlation_timeout must be positive"},
		{id: component.NewIDWithName(metadata.Type, "bad_limits"), wantErr: "max_pending_invocations must be positive\nmax_environments must be positive"},
		{id: component.NewIDWithName(metadata.Type, "short_idle"), wantErr: "environment_idle_timeout must be zero or at least correlation_timeout"},
		{id: component.NewIDWithName(metadata.Type, "open"), wantErr: `endpoint "0.0.0.0:4319" is not loopback and no auth is configured: add auth (e.g. bearertokenauth) or set insecure_allow_unauthenticated: true`},
		{id: component.NewIDWithName(metadata.Type, "open_any_host"), wantErr: `endpoint ":4319" is not loopback`},
		{id: component.NewIDWithName(metadata.Type, "authenticated"), want: authenticated},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.Unmarshal(cfg); err != nil {
				t.Fatal(err)
			}
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				if err == nil || !containsAll(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func containsAll(got, want string) bool {
	for _, line := range strings.Split(want, "\n") {
		if !strings.Contains(got, line) {
			return false
		}
	}
	return true
}
