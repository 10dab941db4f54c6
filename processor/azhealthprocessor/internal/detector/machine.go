package detector

type verdict uint8

const (
	verdictMissing verdict = iota // no signal passed the volume gate
	verdictHealthy
	verdictBreach
)

// machine is the OK → PENDING → ALARM state machine: ALARM when at least M of
// the last N ticks breach (a CloudWatch-style M-of-N, so one good tick does
// not reset it the way a Prometheus "for:" does), or on the fast path; back to
// OK only after ClearTicks consecutive healthy ticks. Missing ticks are
// remembered as missing: they never breach and never count as healthy.
type machine struct {
	hist       []verdict // ring of the last N verdicts
	next       int
	fastRun    int
	healthyRun int
	state      State
}

func (m *machine) step(v verdict, fast bool, cfg *Config) (from State, changed bool) {
	if len(m.hist) != cfg.AlarmTicks {
		m.hist = make([]verdict, cfg.AlarmTicks)
	}
	m.hist[m.next] = v
	m.next = (m.next + 1) % len(m.hist)
	if fast {
		m.fastRun++
	} else {
		m.fastRun = 0
	}
	switch v {
	case verdictHealthy:
		m.healthyRun++
	case verdictBreach:
		m.healthyRun = 0
	}
	breaches := 0
	for _, h := range m.hist {
		if h == verdictBreach {
			breaches++
		}
	}
	from = m.state
	switch m.state {
	case StateOK, StatePending:
		switch {
		case breaches >= cfg.AlarmBreaches || m.fastRun >= cfg.FastTicks:
			m.state = StateAlarm
		case v == verdictBreach:
			m.state = StatePending
		case breaches == 0:
			m.state = StateOK
		}
	case StateAlarm:
		if m.healthyRun >= cfg.ClearTicks {
			m.state = StateOK
		}
	}
	return from, from != m.state
}
