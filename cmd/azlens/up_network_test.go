package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/freeport"
)

// TestUpGivesEachEnvironmentANetworkOfItsOwn: azlens up (network auto) runs every environment's
// runtime and agent in a network namespace of their own where the host allows it, as Lambda does,
// and the agents still reach the collector on the host (its port is forwarded inside): the
// collector counts invocations of both zones. Where the host allows no namespaces, azlens up says
// so instead.
func TestUpGivesEachEnvironmentANetworkOfItsOwn(t *testing.T) {
	prom := freeport.Port(t)
	u := startUp(t, "--prometheus-port", strconv.Itoa(prom))
	defer u.end(t, syscall.SIGKILL)
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	netOf := map[int]string{} // agent PID → its network namespace
	seen := map[string]bool{}
	for _, p := range u.procs {
		if p.Name != "azlens-agent" {
			continue
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.PID))
		if err != nil {
			t.Fatal(err)
		}
		netOf[p.PID] = ns
		seen[ns] = true
	}
	switch {
	case seen[self] && strings.Contains(u.stderr.String(), "share the host's loopback"):
		t.Log("no network namespaces on this host, and azlens up said so")
	case seen[self]:
		t.Fatalf("an agent runs on the host's network (%s) and azlens up gave no warning; agents' namespaces: %v\n%s", self, netOf, u.stderr)
	case len(seen) != 2:
		t.Fatalf("agents' network namespaces %v, want one each for 2 environments", netOf)
	}

	counted := regexp.MustCompile(`(?m)^faas_invocations_total\{[^}]*cloud_availability_zone="(use1-az[12])"[^}]*\} [1-9]`)
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last string
	for time.Now().Before(deadline) {
		if zones := zonesCounted(counted, prom, &last); zones["use1-az1"] && zones["use1-az2"] {
			return
		}
		<-tick.C
	}
	t.Errorf("the collector counted no invocations of both zones from the agents in a minute; last scrape:\n%s\nstderr: %s", last, u.stderr)
}

// zonesCounted scrapes the collector's Prometheus exporter and returns the zones with invocations.
func zonesCounted(counted *regexp.Regexp, port int, last *string) map[string]bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		*last = err.Error()
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	*last = string(b)
	zones := map[string]bool{}
	for _, m := range counted.FindAllStringSubmatch(*last, -1) {
		zones[m[1]] = true
	}
	return zones
}
