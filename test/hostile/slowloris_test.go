package hostile

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/internal/hostiletest"
)

// headerTimeout is every surface's ReadHeaderTimeout here (the front door's, the environment
// API's, the OTLP endpoint's): a trickled header must be cut within it, with margin for a loaded
// machine.
const headerTimeout = region.FrontDoorHeaderTimeout

// served returns a check that a request to url is answered without a server error while a
// header trickles in (a register without a name changes nothing: it is refused).
func served(method, url string) func() error {
	return func() error {
		req, err := http.NewRequest(method, url, strings.NewReader("{}"))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
}

// TestSlowloris: a header trickled one byte every 50 ms is cut at each server's header timeout,
// and other clients are served meanwhile. The surfaces run in parallel: each waits out its
// server's 10 s.
func TestSlowloris(t *testing.T) {
	hold := 3 * headerTimeout
	t.Run("front door", func(t *testing.T) {
		t.Parallel()
		addr := frontDoor(t)
		if !hostiletest.Slowloris(t, addr, 50*time.Millisecond, hold, served(http.MethodGet, "http://"+addr+"/zonalshifts")) {
			t.Fatal("a header trickled byte by byte held its connection past the front door's header timeout")
		}
	})
	t.Run("environment API", func(t *testing.T) {
		t.Parallel()
		e := startLambdaEnv(t)
		if !hostiletest.Slowloris(t, e.api, 50*time.Millisecond, hold, served(http.MethodPost, "http://"+e.api+registerPath)) {
			t.Fatal("a header trickled byte by byte held its connection past the Runtime API's header timeout")
		}
	})
	t.Run("agent OTLP endpoint", func(t *testing.T) {
		t.Parallel()
		addr, _ := otlpEndpoint(t)
		if !hostiletest.Slowloris(t, addr, 50*time.Millisecond, hold, served(http.MethodPost, "http://"+addr+"/v1/traces")) {
			t.Fatal("a header trickled byte by byte held its connection past the OTLP endpoint's header timeout")
		}
	})
}
