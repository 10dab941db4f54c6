package azhealthprocessor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/azlens/azlens/processor/azhealthprocessor/internal/detector"
)

func loadConfig(t *testing.T, id component.ID) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(id.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := createDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, confmap.Validate(cfg)
}

func TestLoadConfig(t *testing.T) {
	demo := &Config{
		Tick: time.Second, ShortWindow: 6 * time.Second, LongWindow: 30 * time.Second,
		SlowThreshold: 2500 * time.Millisecond, MinVolume: 20, Alpha: 0.01,
		Errors:     GateConfig{Ratio: 2, MinDelta: 0.01, Threshold: 0.02},
		Slow:       GateConfig{Ratio: 3, MinDelta: 0.1, Threshold: 0.1},
		Volume:     VolumeConfig{Ratio: 0.3},
		Alarm:      AlarmConfig{Breaches: 3, Ticks: 4, FastFraction: 0.8, FastMinVolume: 10, FastTicks: 2, ClearTicks: 5},
		StaleAfter: 5 * time.Second,
		Guards: GuardsConfig{
			KillSwitch: true,
			BlockedWindows: []BlockedWindow{{
				Start: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC),
				End:   time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC),
			}},
			MinBadEnvironments: 3, MinBadEnvironmentFraction: 0.5, CapacityHeadroom: 0.7,
			Capacity:       map[string]float64{"use1-az1": 40, "use1-az2": 40},
			CapacityWindow: 10 * time.Minute, MaxShifts: 5, ShiftLimitWindow: time.Hour,
			ZoneChangeCooldown: 30 * time.Second,
		},
		Recovery: RecoveryConfig{MinEvacuation: 20 * time.Second, MaxEvacuation: 2 * time.Minute,
			FailbackStages: []float64{0.5, 1}, FailbackStageDuration: 5 * time.Second},
	}
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr []string
	}{
		{id: component.NewID(componentType), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(componentType, "demo"), want: demo},
		{id: component.NewIDWithName(componentType, "bad_threshold"), wantErr: []string{"slow_threshold must be a bucket bound"}},
		{id: component.NewIDWithName(componentType, "bad_everything"), wantErr: []string{
			"tick must be positive", "min_volume must be at least 1", "alpha must be between 0 and 1",
			"errors.threshold must be in (0, 1]", "volume.ratio must be in (0, 1)", "alarm.breaches must be between 1 and alarm.ticks",
			"guards.capacity_headroom must be in (0, 1]", "guards.blocked_windows[0].end must be after start",
			"recovery.max_evacuation must not be shorter than recovery.min_evacuation",
			"recovery.failback_stages must end at 1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg, err := loadConfig(t, tt.id)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("invalid config accepted")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultConfigMatchesDetector(t *testing.T) {
	// The factory's constants and detector.DefaultConfig must tell the same
	// story; the emulator's CLI uses the latter.
	got := createDefaultConfig().(*Config).detectorConfig()
	if got.StaleAfter != 3*detector.DefaultConfig().Tick {
		t.Errorf("stale after %v, want 3 ticks", got.StaleAfter)
	}
	want := detectorDefaults()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-detector.DefaultConfig +factory):\n%s", diff)
	}
}
