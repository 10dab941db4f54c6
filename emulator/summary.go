package emulator

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is what an execution environment went through: how many invocations it took and how
// often it was reset (a timeout, a crash, a failed init), by error type.
type Summary struct {
	ID          string
	AZ          string
	Invocations int
	Resets      map[string]int
}

// Summary returns the environment's counts so far.
func (s *Sandbox) Summary() Summary {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	r := make(map[string]int, len(s.resets))
	for k, v := range s.resets {
		r[k] = v
	}
	return Summary{ID: s.id, AZ: s.az, Invocations: s.invocations, Resets: r}
}

// String is one line for a terminal: "env 1f2e… (use1-az1): 100 invocations, 2 resets (Sandbox.Timeout 2)".
func (m Summary) String() string {
	total := 0
	causes := make([]string, 0, len(m.Resets))
	for k, v := range m.Resets {
		total += v
		causes = append(causes, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(causes)
	line := fmt.Sprintf("environment %s (%s): %d invocations, %d resets", m.ID, m.AZ, m.Invocations, total)
	if total > 0 {
		line += " (" + strings.Join(causes, ", ") + ")"
	}
	return line
}

func (s *Sandbox) noteReset(errorType string) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.resets == nil {
		s.resets = map[string]int{}
	}
	s.resets[errorType]++
}

// warnHolders names, at WARN once per extension, the extensions that kept an invocation past its
// timeout after the runtime was done: they never came back to /event/next (e.g. waiting for a
// telemetry event that never came), and the environment is reset because of them.
func (c *cycle) warnHolders(inv *invocation) {
	s := c.s
	s.mu.Lock()
	back, since := inv.back, inv.runtimeBack
	var holders []string
	for _, e := range c.exts {
		if e.inv == inv {
			holders = append(holders, e.name)
		}
	}
	s.mu.Unlock()
	if !back {
		return // the function itself ran out of time
	}
	held := time.Since(since).Round(time.Millisecond)
	for _, name := range holders {
		s.warnOnce("invoke-hold/"+name, "extension did not return to /event/next before the invocation timed out; the environment is reset (Sandbox.Timeout)",
			"extension", name, "held_after_runtime", held.String(), "timeout", s.timeout.String())
	}
}

// warnInitHolders names the extensions that kept init from finishing.
func (c *cycle) warnInitHolders(start time.Time) {
	s := c.s
	s.mu.Lock()
	var waiting []string
	for _, e := range c.exts {
		if !e.ready {
			waiting = append(waiting, e.name)
		}
	}
	s.mu.Unlock()
	for _, name := range waiting {
		s.warnOnce("init-hold/"+name, "extension did not call /event/next before init timed out; the environment is reset (Sandbox.Timeout)",
			"extension", name, "held", time.Since(start).Round(time.Millisecond).String())
	}
}
