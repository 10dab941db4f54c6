package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/azlens/azlens/extension-agent/config"
	"github.com/azlens/azlens/extension-agent/forward"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// The lifecycle itself (register, subscribe, INVOKE/SHUTDOWN, init errors) is tested end to end
// with the real binary in the emulator: extension-agent/e2e.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAdaptivePolicyHoldsWhenIdleAndFlushesInTheBackgroundWhenBusy(t *testing.T) {
	p := newPolicy(config.FlushAdaptive, time.Second, 50*time.Millisecond)
	t0 := time.Unix(1000, 0)
	// Sparse invocations (every 5 s): hold at every end but the first (nothing known yet).
	for i := range 10 {
		now := t0.Add(time.Duration(i) * 5 * time.Second)
		p.invoked(now)
		if p.holdAtEnd() != (i > 0) {
			t.Fatalf("sparse invocation %d: held = %v", i, !(i > 0))
		}
		p.flushed(now)
	}
	// Busy (every 10 ms): once the window has filled, never hold; flush in the background once
	// per busy interval (50 ms here: twice the subscription's timeoutMs).
	t1 := t0.Add(time.Minute)
	holds, kicks := 0, 0
	for i := range 300 { // 3 s of traffic
		now := t1.Add(time.Duration(i) * 10 * time.Millisecond)
		p.invoked(now)
		if p.holdAtEnd() {
			holds++
			p.flushed(now)
		} else if p.flushDue(now) {
			kicks++
			p.flushed(now)
		}
	}
	if holds != 3 { // the first 3 of the burst still see sparse arrivals in the window
		t.Fatalf("busy function held %d times, want only the 3 before the window filled", holds)
	}
	if kicks < 55 || kicks > 61 {
		t.Fatalf("%d background flushes in 3 s, want one per 50 ms", kicks)
	}
	// Traffic slows down again: back to holding at every end.
	t2 := t1.Add(time.Minute)
	for i := range 8 {
		p.invoked(t2.Add(time.Duration(i) * 3 * time.Second))
	}
	if !p.holdAtEnd() {
		t.Fatal("3 s between invocations: not held")
	}
}

// Right after init a back-to-back caller must not queue behind holds while the rate is learned:
// the first invocation does not hold, the second already knows the rate from one gap.
func TestAdaptivePolicyNeverHoldsBackToBackInvocationsAfterInit(t *testing.T) {
	p := newPolicy(config.FlushAdaptive, time.Second, 50*time.Millisecond)
	t0 := time.Unix(1000, 0)
	for i := range 200 {
		now := t0.Add(time.Duration(i) * 2 * time.Millisecond)
		p.invoked(now)
		if p.holdAtEnd() {
			t.Fatalf("back-to-back invocation %d after init held", i)
		}
	}
	// Low rate after init: the second invocation holds (its gap is above the interval).
	q := newPolicy(config.FlushAdaptive, time.Second, 50*time.Millisecond)
	q.invoked(t0)
	if q.holdAtEnd() {
		t.Fatal("first invocation held")
	}
	if !q.flushDue(t0) {
		t.Fatal("first invocation: no background flush of what already arrived")
	}
	q.flushed(t0)
	q.invoked(t0.Add(5 * time.Second))
	if !q.holdAtEnd() {
		t.Fatal("second invocation 5 s after the first not held")
	}
}

func TestFixedModes(t *testing.T) {
	now := time.Unix(1000, 0)
	end := newPolicy(config.FlushEnd, time.Second, 50*time.Millisecond)
	periodic := newPolicy(config.FlushPeriodic, time.Second, 50*time.Millisecond)
	for i := range 20 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		end.invoked(at)
		periodic.invoked(at)
		if !end.holdAtEnd() {
			t.Fatal("end mode did not hold")
		}
		if periodic.holdAtEnd() {
			t.Fatal("periodic mode held")
		}
	}
	periodic.flushed(now)
	if periodic.flushDue(now.Add(500 * time.Millisecond)) {
		t.Fatal("periodic flush due within the interval")
	}
	if !periodic.flushDue(now.Add(time.Second)) {
		t.Fatal("periodic flush not due after the interval")
	}
}

func TestMissedRuntimeDoneStopsHoldingForAWhile(t *testing.T) {
	p := newPolicy(config.FlushEnd, time.Second, 50*time.Millisecond)
	p.missedRuntimeDone()
	for i := range 16 {
		if p.holdAtEnd() {
			t.Fatalf("held invocation %d right after a missed runtimeDone", i)
		}
	}
	if !p.holdAtEnd() {
		t.Fatal("never holds again")
	}
}

func TestTrackerWaitsForTheRightEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTracker()
		type result struct {
			at time.Time
			ok bool
		}
		got := make(chan result)
		go func() {
			at, ok := tr.wait(context.Background(), "platform.runtimeDone", "r2")
			got <- result{at, ok}
		}()
		finished := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		tr.mark("platform.runtimeDone", "r1", finished.Add(-time.Second))
		tr.mark("platform.report", "r2", finished.Add(time.Second))
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("wait returned for another event")
		default:
		}
		tr.mark("platform.runtimeDone", "r2", finished)
		if r := <-got; !r.ok || !r.at.Equal(finished) {
			t.Fatalf("wait = %v, %v; want the event's time %v", r.at, r.ok, finished)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if _, ok := tr.wait(ctx, "platform.report", "never"); ok {
			t.Fatal("wait succeeded for an event that never came")
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("wait gave up after %v, want its 1s context", d)
		}
	})
}

func TestResource(t *testing.T) {
	env := map[string]string{
		"AWS_REGION":                      "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "orders",
		"AWS_LAMBDA_FUNCTION_VERSION":     "7",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"OTEL_RESOURCE_ATTRIBUTES":        "team=pay%20ments,cloud.availability_zone=spoofed,service.name=svc,broken,=x",
	}
	e := newEnvironment(func(k string) string { return env[k] }, "ignored", "ignored", "111122223333")
	e.az = "euw1-az3"
	e.instance = "env-9"
	var got map[string]any
	if err := json.Unmarshal(e.resource(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "eu-west-1",
		"cloud.account.id": "111122223333", "cloud.availability_zone": "euw1-az3",
		"faas.name": "orders", "faas.version": "7", "faas.instance": "env-9",
		"faas.max_memory": float64(512 << 20), "service.name": "svc", "team": "pay ments",
	}
	if len(got) != len(want) {
		t.Fatalf("resource %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %v, want %v", k, got[k], v)
		}
	}
	env["OTEL_SERVICE_NAME"] = "override"
	e = newEnvironment(func(k string) string { return env[k] }, "", "", "")
	if err := json.Unmarshal(e.resource(), &got); err != nil || got["service.name"] != "override" {
		t.Fatalf("OTEL_SERVICE_NAME: %v %v", got["service.name"], err)
	}
	if e.instance == "" || len(e.instance) != 32 {
		t.Fatalf("random instance id %q", e.instance)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	sink := collectortest.NewTLS(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sink.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	send := func(cfg config.Config) error {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return err
		}
		f := forward.New(forward.Options{Endpoint: sink.URL(), TLS: tc, Version: "test",
			RetryInitial: time.Hour, RetryMax: time.Hour}, []byte(`{}`))
		f.Start()
		defer f.Close()
		f.Add([][]byte{[]byte(`{"time":"t","type":"function","record":"x"}`)}, 40)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return f.Flush(ctx)
	}
	if err := send(config.Config{CAFile: ca}); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	if err := send(config.Config{}); err == nil {
		t.Fatal("an unknown certificate was trusted without the CA file")
	}
	if n := collectortest.CountEvents(sink.Batches()); n != 1 {
		t.Fatalf("%d events delivered, want 1", n)
	}
	if _, err := tlsConfig(config.Config{CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil ||
		!strings.Contains(err.Error(), "AZLENS_COLLECTOR_CA_FILE") {
		t.Fatalf("missing CA file: %v", err)
	}
}
