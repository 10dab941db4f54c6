package backends

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
)

// prometheus is the real Prometheus server scraping every second.
type prometheus struct {
	*child
	base string
}

// startPrometheus scrapes each job's targets (host:port) every second; metrics paths are /metrics.
func startPrometheus(t *testing.T, jobs map[string]string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	cfg := `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
`
	for job, target := range jobs {
		cfg += fmt.Sprintf("  - job_name: %s\n    static_configs:\n      - targets: ['%s']\n", job, target)
	}
	writeFile(t, filepath.Join(dir, "prometheus.yml"), cfg)
	addr := freeport.Addr(t)
	p := &prometheus{base: "http://" + addr}
	p.child = startChild(t, "prometheus", promPath, nil,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr,
	)
	p.waitHTTP(t, p.base+"/-/ready")
	return p
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant PromQL query at now.
func (p *prometheus) query(q string) ([]sample, error) {
	return p.queryAt(q, time.Time{})
}

// queryAt runs an instant PromQL query at at (zero: now).
func (p *prometheus) queryAt(q string, at time.Time) ([]sample, error) {
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	code, body := get(p.base + "/api/v1/query?" + v.Encode())
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: %d %.300s: %w", q, code, body, err)
	}
	if code != http.StatusOK || r.Status != "success" || r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: %d %s, type %s: %s", q, code, r.Status, r.Data.ResultType, r.Error)
	}
	out := make([]sample, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", q, s.Value, err)
		}
		out = append(out, sample{Metric: s.Metric, Value: f})
	}
	return out, nil
}

// byZone maps each sample's cloud_availability_zone to its value.
func byZone(ss []sample) map[string]float64 {
	out := map[string]float64{}
	for _, s := range ss {
		out[s.Metric["cloud_availability_zone"]] = s.Value
	}
	return out
}
