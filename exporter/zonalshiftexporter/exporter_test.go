package zonalshiftexporter

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/azlens/azlens/emulator/zonalshift"
)

func TestStartRenewCancel(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)

	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	act := en.active("fn")
	if len(act) != 1 {
		t.Fatalf("active shifts = %+v, want one", act)
	}
	z := act[0]
	if z.ShiftType != "ZONAL_SHIFT" || z.AwayFrom != "use1-az2" || z.AppliedStatus != zonalshift.Applied ||
		!z.ExpiryTime.Equal(t0.Add(time.Minute)) || !strings.HasPrefix(z.Comment, defaultCommentTag) {
		t.Fatalf("shift = %+v, want an applied 1m zonal shift away from use1-az2", z)
	}
	if w := en.svc.Weights("fn", zones); w["use1-az2"] != 0 || w["use1-az1"] != 1 {
		t.Errorf("weights = %v", w)
	}

	// The detector ticks every 10 s; the lease is renewed every 30 s (half of it), for as long
	// as the decision holds, and never lapses.
	for i := 1; i <= 30; i++ {
		en.clk.Advance(10 * time.Second)
		en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	}
	act = en.active("fn")
	if len(act) != 1 || act[0].ZonalShiftID != z.ZonalShiftID {
		t.Fatalf("after 5 minutes of renewals: %+v, want the same shift", act)
	}
	if got := en.counter(actionsMetric, "action", actionRenew); got != 10 {
		t.Errorf("renewals in 300 s = %d, want 10 (every 30 s)", got)
	}
	if got := en.counter(actionsMetric, "action", actionStart); got != 1 {
		t.Errorf("starts = %d, want 1", got)
	}

	en.clk.Advance(10 * time.Second)
	en.push(e, healthy(en.clk.Now()))
	got, _ := en.svc.Get(z.ZonalShiftID)
	if got.Status != zonalshift.StatusCanceled {
		t.Fatalf("after recovery: status %s, want CANCELED", got.Status)
	}
	if w := en.svc.Weights("fn", zones); w["use1-az2"] != 1 {
		t.Errorf("weight of use1-az2 after recovery = %v", w["use1-az2"])
	}
	// Recovery with nothing held is a no-op.
	en.push(e, healthy(en.clk.Now()))
	if got := en.counter(actionsMetric, "action", actionCancel); got != 1 {
		t.Errorf("cancels = %d, want 1", got)
	}
}

func TestLeaseLapsesWhenDecisionsStop(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.clk.Advance(30 * time.Second)
	en.push(e, evacuate(en.clk.Now(), "use1-az1")) // renewed: expires at 90 s
	// The collector dies: nothing renews the lease, and the zone gets its traffic back on its own.
	en.clk.Advance(59 * time.Second)
	if len(en.active("fn")) != 1 {
		t.Fatal("shift ended before its lease")
	}
	en.clk.Advance(time.Second)
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("shift outlived its lease: %+v", act)
	}
	if w := en.svc.Weights("fn", zones); w["use1-az1"] != 1 {
		t.Errorf("weight after lapse = %v", w["use1-az1"])
	}
}

func TestRecoveryExpireLetsLeaseLapse(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(func(c *Config) { c.OnRecovery = RecoveryExpire })
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	for i := 0; i < 5; i++ {
		en.clk.Advance(10 * time.Second)
		en.push(e, healthy(en.clk.Now()))
	}
	if act := en.active("fn"); len(act) != 1 {
		t.Fatalf("on_recovery: expire cancelled the shift: %+v", act)
	}
	en.clk.Advance(10 * time.Second)
	en.push(e, healthy(en.clk.Now()))
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("shift still active after its lease: %+v", act)
	}
	if got := en.counter(actionsMetric, "action", actionCancel) + en.counter(actionsMetric, "action", actionRenew); got != 0 {
		t.Errorf("cancels + renewals = %d, want 0", got)
	}
}

func TestRestartAdoptsOwnShift(t *testing.T) {
	en := newEnv(t)
	first := en.exporter(nil)
	en.push(first, evacuate(en.clk.Now(), "use1-az4"))
	id := en.active("fn")[0].ZonalShiftID

	// A new process knows nothing; it finds its shift by type and comment and renews it at once.
	en.clk.Advance(10 * time.Second)
	second := en.exporter(nil)
	en.push(second, evacuate(en.clk.Now(), "use1-az4"))
	act := en.active("fn")
	if len(act) != 1 || act[0].ZonalShiftID != id {
		t.Fatalf("after restart: %+v, want only %s", act, id)
	}
	if !act[0].ExpiryTime.Equal(en.clk.Now().Add(time.Minute)) {
		t.Errorf("adopted shift expires %v, want renewed to %v", act[0].ExpiryTime, en.clk.Now().Add(time.Minute))
	}
	// And it can end it.
	en.push(second, healthy(en.clk.Now()))
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("after recovery: %+v", act)
	}
}

func TestNeverFightsManualShift(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	manual, err := en.svc.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "2h", Comment: "oncall"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		en.push(e, evacuate(en.clk.Now(), "use1-az2"))
		en.clk.Advance(10 * time.Second)
	}
	act := en.active("fn")
	if len(act) != 1 || act[0].ZonalShiftID != manual.ZonalShiftID {
		t.Fatalf("active = %+v, want only the manual shift", act)
	}
	if got := en.counter(skippedMetric, "reason", skipBlockedByManual); got != 3 {
		t.Errorf("blocked_by_manual = %d, want 3", got)
	}
	if got := en.counter(actionsMetric, "action", actionStart); got != 0 {
		t.Errorf("starts = %d, want 0", got)
	}
	// When the person ends theirs, the exporter acts on the next decision.
	if _, err := en.svc.Cancel(manual.ZonalShiftID); err != nil {
		t.Fatal(err)
	}
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	if act := en.active("fn"); len(act) != 1 || !strings.HasPrefix(act[0].Comment, defaultCommentTag) || act[0].AwayFrom != "use1-az2" {
		t.Fatalf("after the manual shift: %+v", act)
	}
}

// TestPersonTakesOverOwnShift: ARC allows one zonal shift per resource, so a person cannot start
// one over the exporter's (409); they cancel it and start theirs, and the exporter leaves that
// one alone.
func TestPersonTakesOverOwnShift(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	own := en.active("fn")[0]
	if _, err := en.svc.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az4", ExpiresIn: "1h"}); !zonalshift.IsType(err, zonalshift.ConflictException) {
		t.Fatalf("a second zonal shift on the resource: %v, want a ConflictException", err)
	}
	if _, err := en.svc.Cancel(own.ZonalShiftID); err != nil {
		t.Fatal(err)
	}
	mine, err := en.svc.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az4", ExpiresIn: "1h", Comment: "oncall"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		en.clk.Advance(10 * time.Second)
		en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	}
	if act := en.active("fn"); len(act) != 1 || act[0].ZonalShiftID != mine.ZonalShiftID {
		t.Errorf("active = %+v, want only the person's shift", act)
	}
	if w := en.svc.Weights("fn", zones); w["use1-az4"] != 0 || w["use1-az2"] != 1 {
		t.Errorf("weights = %v, want the person's shift applied", w)
	}
}

func TestOtherCollectorsShiftBlocks(t *testing.T) {
	en := newEnv(t)
	if _, err := en.svc.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1h",
		Comment: "collector-b" + evacuateMarker + "use1-az1"}); err != nil {
		t.Fatal(err)
	}
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	if got := en.counter(skippedMetric, "reason", skipBlockedByOther); got != 1 {
		t.Errorf("blocked_by_other_shift = %d, want 1", got)
	}
	en.push(e, healthy(en.clk.Now()))
	if act := en.active("fn"); len(act) != 1 || !strings.HasPrefix(act[0].Comment, "collector-b") {
		t.Errorf("the other shift was touched: %+v", act)
	}
}

// TestPracticeRunDoesNotBlock: a zonal shift takes precedence over a practice run in ARC, so the
// exporter starts its own, which applies, and leaves the practice run be.
func TestPracticeRunDoesNotBlock(t *testing.T) {
	en := newEnv(t)
	pr, err := en.svc.StartPracticeRun("fn", "use1-az1", "practice")
	if err != nil {
		t.Fatal(err)
	}
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	if w := en.svc.Weights("fn", zones); w["use1-az2"] != 0 || w["use1-az1"] != 1 {
		t.Errorf("weights = %v, want the exporter's shift applied over the practice run", w)
	}
	en.push(e, healthy(en.clk.Now()))
	if got, _ := en.svc.Get(pr.ZonalShiftID); got.Status != zonalshift.StatusActive {
		t.Errorf("practice run %s after recovery, want ACTIVE", got.Status)
	}
}

func TestFailbackStages(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	id := en.active("fn")[0].ZonalShiftID
	for _, w := range []float64{0.1, 0.25, 0.5} {
		en.clk.Advance(10 * time.Second)
		en.push(e, failback(en.clk.Now(), "use1-az1", w))
		if got := en.svc.Weights("fn", zones)["use1-az1"]; got != w {
			t.Errorf("stage %v: weight = %v", w, got)
		}
	}
	// A breach during fail-back evacuates again at once.
	en.clk.Advance(10 * time.Second)
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	if got := en.svc.Weights("fn", zones)["use1-az1"]; got != 0 {
		t.Errorf("re-evacuated: weight = %v, want 0", got)
	}
	if act := en.active("fn"); len(act) != 1 || act[0].ZonalShiftID != id {
		t.Errorf("re-evacuation made a new shift: %+v", act)
	}
	en.clk.Advance(10 * time.Second)
	en.push(e, failback(en.clk.Now(), "use1-az1", 1))
	if act := en.active("fn"); len(act) != 0 {
		t.Errorf("weight 1 must end the shift: %+v", act)
	}
	if got := en.counter(actionsMetric, "action", actionFailbackWeight); got != 4 {
		t.Errorf("failback_weight updates = %d, want 4", got)
	}
}

func TestFailbackWeightDisabledHoldsShift(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(func(c *Config) { c.FailbackWeight = false })
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.clk.Advance(10 * time.Second)
	en.push(e, failback(en.clk.Now(), "use1-az1", 0.5))
	if got := en.svc.Weights("fn", zones)["use1-az1"]; got != 0 {
		t.Errorf("weight = %v, want 0: without failback_weight the zone stays out until weight 1", got)
	}
	if act := en.active("fn"); len(act) != 1 || act[0].FailbackWeight != nil {
		t.Errorf("active = %+v", act)
	}
}

func TestSwitchZone(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.clk.Advance(10 * time.Second)
	en.push(e, evacuate(en.clk.Now(), "use1-az2"))
	act := en.active("fn")
	if len(act) != 1 || act[0].AwayFrom != "use1-az2" {
		t.Fatalf("active = %+v, want one shift away from use1-az2", act)
	}
}

func TestConflictingZonesChangeNothing(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	md := decisionMetrics(en.clk.Now(), "fn", map[string]zoneState{"use1-az1": {1, 0}, "use1-az2": {1, 0}, "use1-az4": {0, 1}})
	en.push(e, md)
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("active = %+v", act)
	}
	if got := en.counter(skippedMetric, "reason", skipConflict); got != 1 {
		t.Errorf("conflicting_zones = %d, want 1", got)
	}
}

func TestStaleDecisionIgnored(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.clk.Advance(20 * time.Second)
	en.push(e, healthy(en.clk.Now()))
	// An older push (a late retry) must not restart the shift.
	en.push(e, evacuate(en.clk.Now().Add(-10*time.Second), "use1-az1"))
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("stale decision restarted a shift: %+v", act)
	}
	if got := en.counter(skippedMetric, "reason", skipStale); got != 1 {
		t.Errorf("stale = %d, want 1", got)
	}
}

func TestResourceIdentifierMapping(t *testing.T) {
	en := newEnv(t)
	arn := "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/fn/50dc6c495c0c9188"
	e := en.exporter(func(c *Config) { c.ResourceIdentifiers = map[string]string{"fn": arn} })
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	if act := en.active(arn); len(act) != 1 {
		t.Fatalf("no shift on %s", arn)
	}
}

func TestAPIValidationErrorIsPermanent(t *testing.T) {
	en := newEnv(t)
	// The service knows fn's zones; a zone it does not know is a ValidationException.
	e := en.exporter(nil)
	err := e.pushMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az9"))
	if err == nil || !consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if !strings.Contains(err.Error(), "400 ValidationException") || !strings.Contains(err.Error(), "awayFrom") {
		t.Errorf("error %q does not carry the API's reason", err)
	}
	if got := en.counter(skippedMetric, "reason", skipRejected); got != 1 {
		t.Errorf("rejected = %d, want 1", got)
	}
}

func TestAPIUnavailableIsRetryable(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "2")
		http.Error(w, `{"__type":"ThrottlingException","message":"slow down"}`, http.StatusTooManyRequests)
		return true
	}
	err := e.pushMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az1"))
	if err == nil || consumererror.IsPermanent(err) || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("429: err = %v, want a retryable throttling error", err)
	}
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		return true
	}
	err = e.pushMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az1"))
	if err == nil || consumererror.IsPermanent(err) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("502: err = %v, want retryable", err)
	}
	// The same push again, with the API back, does the work exactly once.
	en.fault = nil
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	if act := en.active("fn"); len(act) != 1 {
		t.Fatalf("active = %+v, want one", act)
	}
}

func TestAPIUnreachableIsRetryable(t *testing.T) {
	en := newEnv(t)
	e := en.exporter(nil)
	en.srv.Close()
	err := e.pushMetrics(context.Background(), evacuate(en.clk.Now(), "use1-az1"))
	if err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
}

func TestPushBeforeStart(t *testing.T) {
	en := newEnv(t)
	e, err := newShiftExporter(en.config(nil), en.tel.NewTelemetrySettings(), en.clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pushMetrics(context.Background(), healthy(t0)); !consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if err := e.shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSteadyHealthCostsNoCalls(t *testing.T) {
	en := newEnv(t)
	var calls atomic.Int32
	en.fault = func(w http.ResponseWriter, r *http.Request) bool {
		calls.Add(1)
		return false
	}
	e := en.exporter(nil)
	for i := 0; i < 10; i++ {
		en.push(e, healthy(en.clk.Now()))
		en.clk.Advance(10 * time.Second)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("API calls for 10 healthy pushes = %d, want 1 (the first look after start)", n)
	}
	// After an evacuation and its cancel, quiet again.
	en.push(e, evacuate(en.clk.Now(), "use1-az1"))
	en.push(e, healthy(en.clk.Now()))
	calls.Store(0)
	for i := 0; i < 5; i++ {
		en.push(e, healthy(en.clk.Now()))
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("API calls after the cancel = %d, want 0", n)
	}
	// And the shift really is gone.
	if act := en.active("fn"); len(act) != 0 {
		t.Fatalf("active = %+v", act)
	}
}
