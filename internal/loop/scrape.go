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

// alarmStates returns azlens_az_alarm_state per zone of the function (0 OK, 1 PENDING, 2 ALARM).
func (s *scraper) alarmStates(ctx context.Context) (map[string]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", s.url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	out := map[string]int{}
	fam := families[contract.PromAZAlarmState]
	if fam == nil {
		return out, nil
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
		out[zone] = int(m.GetGauge().GetValue())
	}
	return out, nil
}
