//go:build soak

// The fault soak runs with `make soak` (go test -tags soak, about a minute with its builds), not
// in `make test`. It used to lose a whole invocation's function lines about one run in three: the
// receiver joined lines without a requestId to the invocation active when it processed their
// batch, and a batch replayed from the spool after newer ones, or sent to a restarted collector
// that never saw the invocation's platform.start, joined them to another one or to none. Batches
// now carry agent.active (the invocation active at their first event), which the receiver starts
// from. TestForcedDropsAreCounted, beside it, runs in `make test`.

package soak

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/e2etest"
)

// invocationsPerZone is the CI scale; bench runs the same test with AZLENS_SOAK_INVOCATIONS=3334
// (10,000 across the three zones).
func invocationsPerZone(t *testing.T) int {
	if v := os.Getenv("AZLENS_SOAK_INVOCATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60 {
			t.Fatalf("AZLENS_SOAK_INVOCATIONS=%q: want a number ≥ 60", v)
		}
		return n
	}
	return 120
}

// TestFaultSoak: three zones invoke a real aws-lambda-go function with the real agent while the
// path to the real collector goes through every fault in turn, one phase each:
//
//	healthy → collector SIGKILLed and restarted → connections refused → requests black-holed
//	(time out) → 503 → 502 → collector SIGKILLed and restarted again → healthy
//
// and every 10th invocation of a zone times out, which resets its environment (SHUTDOWN
// "timeout" while the agent holds events, the agent killed at the deadline, a new init). Then every
// environment shuts down. The collector exports synchronously (no sending queue), so its 200 to the
// agent means the sink has the data: what the collector acknowledged cannot die with it.
//
// Asserted: every event of every invocation — platform.start, the function's log lines,
// runtimeDone, report — reached the sink (none lost; duplicates of a retried batch are allowed in
// logs and counted), no agent dropped anything, and the cumulative faas.invocations counted no
// invocation twice (and missed at most the invocations straddling a kill, see below).
func TestFaultSoak(t *testing.T) {
	perZone := invocationsPerZone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	sink := startSink(t)
	collectorAddr := e2etest.FreeAddr(t)
	col := &collector{t: t, config: fmt.Sprintf(collectorConfig, t.TempDir(), collectorAddr, sink.Addr)}
	col.start()
	proxy := startProxy(t, collectorAddr)

	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	boxes := make([]*emulator.Sandbox, len(zones))
	for i, zone := range zones {
		sb, err := emulator.NewSandbox(emulator.SandboxConfig{
			Function: emulator.Function{
				Name:    "soak",
				Timeout: time.Second,
				Env: map[string]string{
					"AZLENS_COLLECTOR_ENDPOINT": "http://" + proxy.addr,
					// Long enough that a collector slowed by a loaded machine is not taken for a
					// dead one: a request that times out after the collector applied it, retried
					// to the collector's successor after a kill, is counted by both (the receiver
					// remembers applied batches in memory only). Black-holed requests still time
					// out within the phase.
					"AZLENS_COLLECTOR_TIMEOUT_MS": "3000",
					"AZLENS_RETRY_INITIAL_MS":     "20",
					"AZLENS_RETRY_MAX_MS":         "200",
					"AZLENS_SPOOL_DIR":            t.TempDir(),
				},
				Runtime:    &emulator.ProcessRuntime{Path: functionPath},
				Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
			},
			AZ:        zone,
			LogOutput: io.Discard,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Start(ctx); err != nil {
			t.Fatal(err)
		}
		boxes[i] = sb
	}

	// Phases, each a slice of every zone's invocations.
	phases := []struct {
		name  string
		enter func()
	}{
		{"healthy", func() {}},
		{"collector killed", func() { col.kill() }},
		{"collector restarted", func() { col.start() }},
		{"connections refused", func() { proxy.setMode(modeRefuse) }},
		{"black-holed", func() { proxy.setMode(modeBlackhole) }},
		{"503", func() { proxy.setMode(mode503) }},
		{"502", func() { proxy.setMode(mode502) }},
		{"healthy again", func() { proxy.setMode(modePass) }},
		{"collector killed again", func() { col.kill() }},
		{"collector restarted again", func() { col.start() }},
	}
	per := perZone / len(phases)
	var mu sync.Mutex
	want := map[string]map[string]int{} // requestId → event type → records expected
	timedOut := map[string]int{}
	for p, ph := range phases {
		ph.enter()
		var wg sync.WaitGroup
		for z, sb := range boxes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range per {
					n := p*per + k
					payload := `{"mode":"log","n":2}`
					if n%10 == 9 {
						payload = `{"mode":"sleep","ms":1500}` // past the 1 s timeout: the environment resets
					}
					ictx, icancel := context.WithTimeout(ctx, 30*time.Second)
					res, err := sb.Invoke(ictx, &emulator.InvokeRequest{Payload: []byte(payload)})
					if err != nil {
						icancel()
						t.Errorf("%s, zone %s, invocation %d: %v", ph.name, zones[z], n, err)
						return
					}
					<-res.Done
					icancel()
					mu.Lock()
					switch res.Status {
					case "success":
						want[res.RequestID] = map[string]int{"platform.start": 1, "function": 2, "platform.runtimeDone": 1, "platform.report": 1}
					case "timeout":
						want[res.RequestID] = map[string]int{"platform.start": 1, "platform.runtimeDone": 1, "platform.report": 1}
						timedOut[zones[z]]++
					default:
						t.Errorf("%s: invocation %s ended %s (%s)", ph.name, res.RequestID, res.Status, res.ErrorType)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	for _, sb := range boxes {
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		if err := sb.Shutdown(sctx, emulator.ShutdownSpindown); err != nil {
			t.Errorf("shutdown %s: %v", sb.AZ(), err)
		}
		scancel()
	}

	// Every agent has exited: what it acknowledged to nobody is spooled or lost, and the sink is
	// final once the collector has nothing in flight. Wait until everything expected is there
	// or the deadline says it never will be.
	total := 0
	for _, types := range want {
		for _, n := range types {
			total += n
		}
	}
	got := sink.waitEvents(t, want)
	lost, dup := 0, 0
	for id, types := range want {
		for typ, n := range types {
			if g := got[id][typ]; g < n {
				lost += n - g
			} else {
				dup += g - n
			}
		}
	}
	// A collector restart splits some invocations: start and runtimeDone went to the killed
	// process, the report to its successor, which holds it waiting for the rest until its
	// correlation timeout or its shutdown. Stop it as a deploy would (SIGTERM) so it emits them.
	col.stop()
	counted := sink.invocationsCounted()
	invocations := len(want)
	t.Logf("zones=%d invocations=%d (resets %v) events=%d lost=%d duplicate_log_records=%d faas.invocations counted=%d; agent drop counters %v",
		len(zones), invocations, timedOut, total, lost, dup, counted, sink.agentDrops())
	if lost != 0 {
		t.Errorf("%d of %d events lost", lost, total)
	}
	// Counted once per report applied: a retried batch is recognised by its seq and never applied
	// twice by one collector. But the receiver remembers applied batches in memory only, so a
	// batch that a collector applied and exported just before it was SIGKILLed, unanswered, is
	// applied again by its successor when the agent retries: each such invocation is counted
	// twice, and its report reaches the sink twice. So the overcount must be explained, report for
	// report, by reports delivered twice (an open problem: it needs the dedupe window persisted).
	// Undercounted by at most one invocation per environment and kill: the one whose report
	// reached a successor that holds it (waiting for its start) and is itself killed before its
	// correlation timeout. Its events are not lost (checked above); only its count.
	const kills = 2
	reportsTwice := 0
	for id := range want {
		reportsTwice += max(got[id]["platform.report"]-1, 0)
	}
	t.Logf("reports delivered more than once (retries across a kill): %d", reportsTwice)
	if counted > invocations+reportsTwice {
		t.Errorf("faas.invocations counted %d invocations; there were %d and only %d reports were re-delivered: double-counted without a re-delivery", counted, invocations, reportsTwice)
	}
	if counted < invocations-len(zones)*kills {
		t.Errorf("faas.invocations counted %d invocations; there were %d: more lost than the %d straddling %d kills can explain", counted, invocations, len(zones)*kills, kills)
	}
}
