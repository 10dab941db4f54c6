package loop

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/azlens/azlens/internal/contract"
)

// scraper reads the azhealth processor's alarm states from the collector's Prometheus exporter,
// as a dashboard or the shipped alert rules would.
type scraper struct {
	url      string
	function string
	client   *http.Client
}

func newScraper(url, function string) *scraper {
	return &scraper{url: url, function: function, client: &http.Client{Timeout: 5 * time.Second}}
}

// ZoneAlarm is a zone's alarm state as the detector last decided it.
type ZoneAlarm struct {
	State int // 0 OK, 1 PENDING, 2 ALARM
	// Since is the detector tick that set State; zero when the collector did not say.
	Since time.Time
}

// Detector is what the scraper reads of the detector's verdicts at one scrape.
type Detector struct {
	// Alarms by zone.
	Alarms map[string]ZoneAlarm
	// Blocked is the cumulative count of shift decisions a guard blocked, by reason
	// (azlens_az_shift_blocked_total).
	Blocked map[string]float64
}

// alarmStates returns azlens_az_alarm_state per zone of the function, with the decision time of
// azlens_az_alarm_state_since_timestamp_seconds, and the blocked shift counts.
func (s *scraper) alarmStates(ctx context.Context) (Detector, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return Detector{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Detector{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Detector{}, fmt.Errorf("scrape %s: %s", s.url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Detector{}, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	// byZone returns a gauge's value per zone of the function.
	byZone := func(name string) map[string]float64 {
		out := map[string]float64{}
		fam := families[name]
		if fam == nil {
			return out
		}
		for _, m := range fam.GetMetric() {
			var zone, fn string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "cloud_availability_zone":
					zone = l.GetValue()
				case "faas_name":
					fn = l.GetValue()
				}
			}
			if zone == "" || (fn != "" && fn != s.function) {
				continue
			}
			out[zone] = m.GetGauge().GetValue()
		}
		return out
	}
	out := map[string]ZoneAlarm{}
	for zone, v := range byZone(contract.PromAZAlarmState) {
		out[zone] = ZoneAlarm{State: int(v)}
	}
	for zone, v := range byZone(contract.PromAZAlarmStateSince) {
		if a, ok := out[zone]; ok && v > 0 {
			a.Since = time.UnixMilli(int64(v * 1000))
			out[zone] = a
		}
	}
	blocked := map[string]float64{}
	if fam := families["azlens_az_shift_blocked_total"]; fam != nil {
		for _, m := range fam.GetMetric() {
			var reason, fn string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "reason":
					reason = l.GetValue()
				case "faas_name":
					fn = l.GetValue()
				}
			}
			if reason != "" && (fn == "" || fn == s.function) {
				blocked[reason] = m.GetCounter().GetValue()
			}
		}
	}
	return Detector{Alarms: out, Blocked: blocked}, nil
}
