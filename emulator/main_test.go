package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/emulator/emulatortest"
)

// Paths of the real binaries built once for the whole test run.
var (
	testDir      string
	functionPath string
	extensionBin string
)

func TestMain(m *testing.M) {
	MaybeRunHolder() // this binary is also the user-namespace holder (userns_linux.go)
	dir, err := os.MkdirTemp("", "emulator-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	if functionPath, err = emulatortest.BuildFunction(dir); err == nil {
		extensionBin, err = emulatortest.BuildTestExtension(dir, "test-extension")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// tapped is one platform event seen through the sandbox's test tap.
type tapped struct {
	Time   time.Time
	Type   string
	Record map[string]any
}

// eventLog collects platform events and lets tests wait for one without sleeping.
type eventLog struct {
	mu      sync.Mutex
	events  []tapped
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(t time.Time, typ string, rec any) {
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	l.mu.Lock()
	l.events = append(l.events, tapped{t, typ, m})
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []tapped {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tapped(nil), l.events...)
}

func (l *eventLog) types() []string {
	var out []string
	for _, e := range l.snapshot() {
		out = append(out, e.Type)
	}
	return out
}

// waitFor blocks until an event satisfies match, failing the test after a generous bound.
func (l *eventLog) waitFor(t *testing.T, what string, match func(tapped) bool) tapped {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, e := range l.events {
			if match(e) {
				l.mu.Unlock()
				return e
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no %s event; saw %v", what, l.types())
		}
	}
}

func (l *eventLog) find(typ string) []tapped {
	var out []tapped
	for _, e := range l.snapshot() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// startSandbox makes, taps and starts a sandbox, shutting it down at the end of the test.
func startSandbox(t *testing.T, cfg SandboxConfig) (*Sandbox, *eventLog, error) {
	t.Helper()
	s, err := NewSandbox(cfg)
	if err != nil {
		t.Fatalf("NewSandbox: %v", err)
	}
	log := newEventLog()
	s.tap = log.add
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx, ShutdownSpindown); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	err = s.Start(context.Background())
	return s, log, err
}

func processFunction(env map[string]string, exts ...Extension) Function {
	return Function{
		Name:       "test-fn",
		Timeout:    5 * time.Second,
		Env:        env,
		Runtime:    &ProcessRuntime{Path: functionPath},
		Extensions: exts,
	}
}

func invoke(t *testing.T, s *Sandbox, payload string) *InvokeResult {
	t.Helper()
	res, err := s.Invoke(context.Background(), &InvokeRequest{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	<-res.Done
	return res
}

// testExtension links the test extension binary under name (its extension name) in a fresh
// directory and returns it with the file it records into.
func testExtension(t *testing.T, name string, args ...string) (*ProcessExtension, string) {
	t.Helper()
	dir := t.TempDir()
	path := dir + "/" + name
	if err := os.Symlink(extensionBin, path); err != nil {
		t.Fatal(err)
	}
	rec := dir + "/record.jsonl"
	return &ProcessExtension{Path: path, Args: append([]string{"-record", rec}, args...)}, rec
}

// extRecord is one line the test extension wrote.
type extRecord map[string]any

func readRecords(t *testing.T, path string) []extRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read extension record: %v", err)
	}
	var out []extRecord
	for _, line := range splitLines(b) {
		var r extRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("record line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}

func recordsOf(recs []extRecord, kind string) []extRecord {
	var out []extRecord
	for _, r := range recs {
		if r["kind"] == kind {
			out = append(out, r)
		}
	}
	return out
}

// eventBodies are the Extensions API events the test extension received, decoded.
func eventBodies(recs []extRecord) []map[string]any {
	var out []map[string]any
	for _, r := range recsOfKind(recs, "event") {
		if m, ok := r["body"].(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func recsOfKind(recs []extRecord, kind string) []extRecord { return recordsOf(recs, kind) }

func shutdown(t *testing.T, s *Sandbox, reason ShutdownReason) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx, reason); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
