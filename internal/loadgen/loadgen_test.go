package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOutcomesAreClassifiedByZone runs the generator against a front-door stand-in (the emulator's
// own front door is covered in emulator/) answering, in turn, success, function error, throttle
// and failure, and checks the generator's counts match what the server answered, zone by zone.
func TestOutcomesAreClassifiedByZone(t *testing.T) {
	const n = 80
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	answered := map[string][4]int64{}
	seen := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		i := seen
		seen++
		if seen == n {
			cancel() // enough: stop sending, in-flight requests still finish
		}
		mu.Unlock()
		if i >= n {
			// Sent before the cancellation was seen: still answered and counted.
			i = 0
		}
		zone := []string{"use1-az1", "use1-az2"}[i%2]
		o := Outcome((i / 2) % 4)
		mu.Lock()
		c := answered[zone]
		c[o]++
		answered[zone] = c
		mu.Unlock()
		if r.URL.Path != "/2015-03-31/functions/hello/invocations" {
			t.Errorf("path %s", r.URL.Path)
		}
		switch o {
		case Success:
			w.Header().Set("X-Azlens-Zone", zone)
		case FunctionError:
			w.Header().Set("X-Azlens-Zone", zone)
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
		case Throttled:
			w.Header().Set("X-Azlens-Zone", zone)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		case Failed:
			w.Header().Set("X-Azlens-Zone", zone)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	g, err := New(Config{Endpoint: srv.URL, Function: "hello", Rate: 2000, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("generator did not stop after its context ended")
	}

	mu.Lock()
	defer mu.Unlock()
	var total int64
	for _, z := range g.Totals() {
		want := answered[z.Zone]
		if z.Count != want {
			t.Errorf("zone %s: counted %v, server answered %v", z.Zone, z.Count, want)
		}
		total += z.Total()
	}
	if total != int64(seen) {
		t.Errorf("counted %d answers, server answered %d", total, seen)
	}
	period := g.Take()
	if len(period) != 2 || period[0].Zone != "use1-az1" || len(period[0].Latencies) == 0 || period[0].Quantile(0.99) <= 0 {
		t.Errorf("period stats %+v", period)
	}
	if again := g.Take(); len(again) != 0 {
		t.Errorf("Take did not start a new period: %+v", again)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{Endpoint: "http://x", Function: "f"}, {Rate: 1, Function: "f"}, {Rate: 1, Endpoint: "http://x"}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
