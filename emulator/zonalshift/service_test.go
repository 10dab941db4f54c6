package zonalshift_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

var (
	t0    = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	zones = []string{"use1-az1", "use1-az2", "use1-az4"}
)

func newService(t *testing.T) (*zonalshift.Service, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.NewClock(t0)
	s := zonalshift.New(zonalshift.Config{Clock: clk})
	t.Cleanup(s.Close)
	return s, clk
}

func ptr[T any](v T) *T { return &v }

func mustStart(t *testing.T, s *zonalshift.Service, req zonalshift.StartRequest) zonalshift.ZonalShift {
	t.Helper()
	z, err := s.Start(req)
	if err != nil {
		t.Fatalf("Start(%+v): %v", req, err)
	}
	return z
}

func TestParseExpiresIn(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m", time.Minute, true},
		{"30m", 30 * time.Minute, true},
		{"1440m", 24 * time.Hour, true},
		{"1h", time.Hour, true},
		{"72h", 72 * time.Hour, true},
		{"0m", 0, false},
		{"1441m", 0, false},
		{"73h", 0, false},
		{"0h", 0, false},
		{"01m", 0, false},
		{"30s", 0, false},
		{"1d", 0, false},
		{"-1m", 0, false},
		{"1.5h", 0, false},
		{"30 m", 0, false},
		{"m", 0, false},
		{"", 0, false},
		{"99999m", 0, false},
		{"1H", 0, false},
	} {
		got, err := zonalshift.ParseExpiresIn(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseExpiresIn(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestStartValidation(t *testing.T) {
	valid := zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "30m", Comment: "c"}
	for _, tc := range []struct {
		name    string
		edit    func(*zonalshift.StartRequest)
		reason  string
		wantMsg string
	}{
		{"no resource", func(r *zonalshift.StartRequest) { r.ResourceIdentifier = "" }, zonalshift.ReasonInvalidResourceIdentifier, "resourceIdentifier is required"},
		{"resource with space", func(r *zonalshift.StartRequest) { r.ResourceIdentifier = "a b" }, zonalshift.ReasonInvalidResourceIdentifier, "resourceIdentifier must not contain spaces or control characters"},
		{"no awayFrom", func(r *zonalshift.StartRequest) { r.AwayFrom = "" }, zonalshift.ReasonInvalidAz, "awayFrom is required"},
		{"bad awayFrom", func(r *zonalshift.StartRequest) { r.AwayFrom = "use1/az1" }, zonalshift.ReasonInvalidAz, `awayFrom must be an availability zone name or ID such as use1-az1, got "use1/az1"`},
		{"no expiresIn", func(r *zonalshift.StartRequest) { r.ExpiresIn = "" }, zonalshift.ReasonMissingValue, "expiresIn is required"},
		{"manual over 72h", func(r *zonalshift.StartRequest) { r.ExpiresIn = "73h" }, zonalshift.ReasonInvalidExpiresIn, `expiresIn in hours must be 1-72, got "73h"`},
		{"minutes over 1440", func(r *zonalshift.StartRequest) { r.ExpiresIn = "1441m" }, zonalshift.ReasonInvalidExpiresIn, `expiresIn in minutes must be 1-1440, got "1441m"`},
		{"long comment", func(r *zonalshift.StartRequest) { r.Comment = string(make([]byte, 129)) }, zonalshift.ReasonInvalidRequest, "comment must be at most 128 characters, got 129"},
		{"bad type", func(r *zonalshift.StartRequest) { r.Type = "MANUAL" }, zonalshift.ReasonInvalidRequest, `type must be manual, automatic or practice, got "MANUAL"`},
		{"weight above 1", func(r *zonalshift.StartRequest) { r.FailbackWeight = ptr(1.5) }, zonalshift.ReasonInvalidRequest, "failbackWeight must be between 0 and 1, got 1.5"},
		{"negative weight", func(r *zonalshift.StartRequest) { r.FailbackWeight = ptr(-0.1) }, zonalshift.ReasonInvalidRequest, "failbackWeight must be between 0 and 1, got -0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newService(t)
			req := valid
			tc.edit(&req)
			_, err := s.Start(req)
			want := &zonalshift.Error{Type: zonalshift.ValidationException, Reason: tc.reason, Message: tc.wantMsg}
			if diff := cmp.Diff(want, err); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got, _ := s.List(zonalshift.ListFilter{}); len(got) != 0 {
				t.Errorf("a rejected start left %d shifts", len(got))
			}
		})
	}
}

func TestStartUnknownZoneOfKnownResource(t *testing.T) {
	s, _ := newService(t)
	s.SetZones("fn", zones)
	_, err := s.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az9", ExpiresIn: "1h"})
	if !zonalshift.IsType(err, zonalshift.ValidationException) || err.(*zonalshift.Error).Reason != zonalshift.ReasonUnsupportedAz {
		t.Fatalf("err = %v, want ValidationException UnsupportedAz", err)
	}
	// A resource whose zones are unknown accepts any well-formed zone.
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "other", AwayFrom: "use1-az9", ExpiresIn: "1h"})
}

func TestStartFields(t *testing.T) {
	s, _ := newService(t)
	z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "30m", Comment: "drill"})
	want := zonalshift.ZonalShift{
		ZonalShiftID:       z.ZonalShiftID,
		ResourceIdentifier: "fn",
		AwayFrom:           "use1-az1",
		StartTime:          zonalshift.EpochTime{Time: t0},
		ExpiryTime:         zonalshift.EpochTime{Time: t0.Add(30 * time.Minute)},
		Status:             zonalshift.StatusActive,
		Comment:            "drill",
		Type:               zonalshift.TypeManual, // the default, as ARC's StartZonalShift
		ShiftType:          "ZONAL_SHIFT",
		AppliedStatus:      zonalshift.Applied,
	}
	if diff := cmp.Diff(want, z); diff != "" {
		t.Errorf("shift (-want +got):\n%s", diff)
	}
	if len(z.ZonalShiftID) != 36 {
		t.Errorf("id %q is not a UUID", z.ZonalShiftID)
	}
	got, err := s.Get(z.ZonalShiftID)
	if err != nil || !cmp.Equal(got, z) {
		t.Errorf("Get = %+v, %v; want %+v", got, err, z)
	}
}

func TestWeights(t *testing.T) {
	s, clk := newService(t)
	all1 := map[string]float64{"use1-az1": 1, "use1-az2": 1, "use1-az4": 1}
	if diff := cmp.Diff(all1, s.Weights("fn", zones)); diff != "" {
		t.Errorf("weights before any shift (-want +got):\n%s", diff)
	}
	z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az2", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic})
	want := map[string]float64{"use1-az1": 1, "use1-az2": 0, "use1-az4": 1}
	if diff := cmp.Diff(want, s.Weights("fn", zones)); diff != "" {
		t.Errorf("weights while shifted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(all1, s.Weights("other-fn", zones)); diff != "" {
		t.Errorf("another resource is not shifted (-want +got):\n%s", diff)
	}
	for _, stage := range []float64{0.1, 0.25, 0.5, 1} {
		if _, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{FailbackWeight: ptr(stage)}); err != nil {
			t.Fatal(err)
		}
		if got := s.Weights("fn", zones)["use1-az2"]; got != stage {
			t.Errorf("failback stage %v: weight of use1-az2 = %v", stage, got)
		}
	}
	// A zone the router does not pass is not invented.
	if diff := cmp.Diff(map[string]float64{"use1-az1": 1, "use1-az4": 1}, s.Weights("fn", []string{"use1-az1", "use1-az4"})); diff != "" {
		t.Errorf("weights without the shifted zone (-want +got):\n%s", diff)
	}
	// The last zone is never taken out.
	if diff := cmp.Diff(map[string]float64{"use1-az2": 1}, s.Weights("fn", []string{"use1-az2"})); diff != "" {
		t.Errorf("single zone (-want +got):\n%s", diff)
	}
	clk.Advance(time.Minute)
	if diff := cmp.Diff(all1, s.Weights("fn", zones)); diff != "" {
		t.Errorf("weights after expiry (-want +got):\n%s", diff)
	}
}

func TestExpiryAndRenewal(t *testing.T) {
	s, clk := newService(t)
	z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic})

	clk.Advance(59 * time.Second)
	if got, _ := s.Get(z.ZonalShiftID); got.Status != zonalshift.StatusActive {
		t.Fatalf("status at 59s = %s, want ACTIVE", got.Status)
	}
	// Renewing moves the expiry to now + expiresIn, not start + expiresIn.
	r, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{ExpiresIn: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(59*time.Second + time.Minute); !r.ExpiryTime.Equal(want) {
		t.Errorf("renewed expiry = %v, want %v", r.ExpiryTime, want)
	}
	clk.Advance(59 * time.Second)
	if got, _ := s.Get(z.ZonalShiftID); got.Status != zonalshift.StatusActive {
		t.Fatalf("status 59s after renewal = %s, want ACTIVE", got.Status)
	}
	clk.Advance(time.Second)
	got, _ := s.Get(z.ZonalShiftID)
	if got.Status != zonalshift.StatusExpired || got.AppliedStatus != zonalshift.NotApplied {
		t.Fatalf("after the lease: status %s applied %s, want EXPIRED NOT_APPLIED", got.Status, got.AppliedStatus)
	}
	// An ended lease cannot be renewed or cancelled.
	for name, err := range map[string]error{
		"update": func() error {
			_, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{ExpiresIn: "1m"})
			return err
		}(),
		"cancel": func() error { _, err := s.Cancel(z.ZonalShiftID); return err }(),
	} {
		e, ok := err.(*zonalshift.Error)
		if !ok || e.Type != zonalshift.ConflictException || e.Reason != zonalshift.ReasonZonalShiftStatusNotActive || e.ZonalShiftID != z.ZonalShiftID {
			t.Errorf("%s of an expired shift: %v, want ConflictException ZonalShiftStatusNotActive", name, err)
		}
	}
	// The resource is free for a new shift of the same type.
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az2", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic})
}

func TestSubscribeHearsExpiryWithoutCalls(t *testing.T) {
	s, clk := newService(t)
	ch, cancel := s.Subscribe()
	defer cancel()
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "5m"})
	expectSignal(t, ch, "start")
	clk.Advance(4 * time.Minute)
	expectNoSignal(t, ch, "before expiry")
	clk.Advance(time.Minute) // the timer fires inside Advance
	expectSignal(t, ch, "expiry")
	if clk.Pending() != 0 {
		t.Errorf("%d timers pending with no active shift", clk.Pending())
	}
	cancel()
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "5m"})
	expectNoSignal(t, ch, "after cancel")
}

func TestSubscribeCoalesces(t *testing.T) {
	s, _ := newService(t)
	ch, cancel := s.Subscribe()
	defer cancel()
	for i := 0; i < 3; i++ {
		z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "5m"})
		if _, err := s.Cancel(z.ZonalShiftID); err != nil {
			t.Fatal(err)
		}
	}
	expectSignal(t, ch, "changes")
	expectNoSignal(t, ch, "a backlog")
}

func expectSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	default:
		t.Fatalf("no change signal after %s", what)
	}
}

func expectNoSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("unexpected change signal %s", what)
	default:
	}
}

func TestPrecedence(t *testing.T) {
	s, clk := newService(t)
	practice := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az4", ExpiresIn: "30m", Type: zonalshift.TypePractice})
	auto := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az2", ExpiresIn: "10m", Type: zonalshift.TypeAutomatic})
	manual := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "5m", Type: zonalshift.TypeManual})
	other := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn2", AwayFrom: "use1-az4", ExpiresIn: "5m", Type: zonalshift.TypePractice})

	check := func(step string, wantApplied string, wantAway string) {
		t.Helper()
		for _, z := range []zonalshift.ZonalShift{practice, auto, manual} {
			got, err := s.Get(z.ZonalShiftID)
			if err != nil {
				t.Fatal(err)
			}
			want := zonalshift.NotApplied
			if z.ZonalShiftID == wantApplied {
				want = zonalshift.Applied
			}
			if got.AppliedStatus != want {
				t.Errorf("%s: %s shift is %s, want %s", step, z.Type, got.AppliedStatus, want)
			}
		}
		w := s.Weights("fn", zones)
		for _, zn := range zones {
			want := 1.0
			if zn == wantAway {
				want = 0
			}
			if w[zn] != want {
				t.Errorf("%s: weight %s = %v, want %v", step, zn, w[zn], want)
			}
		}
		// Another resource's shift is applied on its own.
		if got, _ := s.Get(other.ZonalShiftID); got.Status == zonalshift.StatusActive && got.AppliedStatus != zonalshift.Applied {
			t.Errorf("%s: practice shift on fn2 is %s", step, got.AppliedStatus)
		}
	}
	check("manual active", manual.ZonalShiftID, "use1-az1")
	clk.Advance(5 * time.Minute) // manual lapses; automatic applies
	check("manual expired", auto.ZonalShiftID, "use1-az2")
	if _, err := s.Cancel(auto.ZonalShiftID); err != nil {
		t.Fatal(err)
	}
	check("automatic cancelled", practice.ZonalShiftID, "use1-az4")
	// A manual shift started while a lower one is applied takes over at once.
	manual2 := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az2", ExpiresIn: "1h"})
	manual = manual2
	check("second manual", manual2.ZonalShiftID, "use1-az2")
	clk.Advance(25 * time.Minute) // practice lapses under the manual one
	if got, _ := s.Get(practice.ZonalShiftID); got.Status != zonalshift.StatusExpired {
		t.Errorf("practice status %s, want EXPIRED", got.Status)
	}
	check("practice expired", manual2.ZonalShiftID, "use1-az2")
}

func TestConflictSameType(t *testing.T) {
	s, _ := newService(t)
	a := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic})
	_, err := s.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az2", ExpiresIn: "1m", Type: zonalshift.TypeAutomatic})
	e, ok := err.(*zonalshift.Error)
	if !ok || e.Type != zonalshift.ConflictException || e.Reason != zonalshift.ReasonZonalShiftAlreadyExists || e.ZonalShiftID != a.ZonalShiftID {
		t.Fatalf("second automatic shift: %v, want ConflictException naming %s", err, a.ZonalShiftID)
	}
	if e.HTTPStatus() != 409 {
		t.Errorf("status %d, want 409", e.HTTPStatus())
	}
}

func TestUpdateAndCancel(t *testing.T) {
	s, clk := newService(t)
	z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1h", Comment: "a"})
	if _, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{}); !zonalshift.IsType(err, zonalshift.ValidationException) {
		t.Errorf("empty update: %v, want ValidationException", err)
	}
	if _, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{ExpiresIn: "73h"}); !zonalshift.IsType(err, zonalshift.ValidationException) {
		t.Errorf("update to 73h: %v, want ValidationException", err)
	}
	if _, err := s.Update("nope", zonalshift.UpdateRequest{ExpiresIn: "1m"}); !zonalshift.IsType(err, zonalshift.ResourceNotFoundException) {
		t.Errorf("update of unknown id: %v, want ResourceNotFoundException", err)
	}
	u, err := s.Update(z.ZonalShiftID, zonalshift.UpdateRequest{Comment: ptr("b")})
	if err != nil || u.Comment != "b" || !u.ExpiryTime.Equal(z.ExpiryTime.Time) {
		t.Errorf("comment-only update = %+v, %v; want comment b and the same expiry", u, err)
	}
	clk.Advance(time.Minute)
	c, err := s.Cancel(z.ZonalShiftID)
	if err != nil || c.Status != zonalshift.StatusCanceled || c.AppliedStatus != zonalshift.NotApplied {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	if _, err := s.Cancel("nope"); !zonalshift.IsType(err, zonalshift.ResourceNotFoundException) {
		t.Errorf("cancel of unknown id: %v, want ResourceNotFoundException", err)
	}
	if w := s.Weights("fn", zones); w["use1-az1"] != 1 {
		t.Errorf("weight after cancel = %v, want 1", w["use1-az1"])
	}
}

func TestListFilterAndPrune(t *testing.T) {
	clk := clocktest.NewClock(t0)
	s := zonalshift.New(zonalshift.Config{Clock: clk, MaxEnded: 2})
	defer s.Close()
	var ids []string
	for i := 0; i < 4; i++ {
		z := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1m"})
		ids = append(ids, z.ZonalShiftID)
		clk.Advance(time.Minute)
	}
	live := mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn2", AwayFrom: "use1-az1", ExpiresIn: "1m"})
	all, _ := s.List(zonalshift.ListFilter{})
	var got []string
	for _, z := range all {
		got = append(got, z.ZonalShiftID)
	}
	if diff := cmp.Diff([]string{ids[2], ids[3], live.ZonalShiftID}, got); diff != "" {
		t.Errorf("kept shifts (-want +got):\n%s", diff)
	}
	act, _ := s.List(zonalshift.ListFilter{Status: zonalshift.StatusActive})
	if len(act) != 1 || act[0].ZonalShiftID != live.ZonalShiftID {
		t.Errorf("active = %+v", act)
	}
	exp, _ := s.List(zonalshift.ListFilter{Status: zonalshift.StatusExpired, ResourceIdentifier: "fn"})
	if len(exp) != 2 {
		t.Errorf("expired on fn = %d, want 2", len(exp))
	}
	if _, err := s.List(zonalshift.ListFilter{Status: "active"}); !zonalshift.IsType(err, zonalshift.ValidationException) {
		t.Errorf("lower-case status: %v, want ValidationException", err)
	}
}

func TestManagedResource(t *testing.T) {
	s, _ := newService(t)
	if _, err := s.ManagedResource("fn"); !zonalshift.IsType(err, zonalshift.ResourceNotFoundException) {
		t.Fatalf("unknown resource: %v", err)
	}
	s.Weights("fn", zones)
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az4", ExpiresIn: "1h", FailbackWeight: ptr(0.25)})
	mr, err := s.ManagedResource("fn")
	if err != nil {
		t.Fatal(err)
	}
	if mr.ShiftedAwayFrom != "use1-az4" || len(mr.ZonalShifts) != 1 ||
		!cmp.Equal(mr.AppliedWeights, map[string]float64{"use1-az1": 1, "use1-az2": 1, "use1-az4": 0.25}) ||
		!cmp.Equal(mr.AvailabilityZones, zones) {
		t.Errorf("managed resource = %+v", mr)
	}
}

func TestCloseStopsTimer(t *testing.T) {
	clk := clocktest.NewClock(t0)
	s := zonalshift.New(zonalshift.Config{Clock: clk})
	mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1m"})
	if clk.Pending() != 1 {
		t.Fatalf("pending timers = %d, want 1", clk.Pending())
	}
	s.Close()
	if clk.Pending() != 0 {
		t.Fatalf("pending timers after Close = %d, want 0", clk.Pending())
	}
	// Expiry is still evaluated on calls after Close.
	clk.Advance(time.Minute)
	if w := s.Weights("fn", zones); w["use1-az1"] != 1 {
		t.Errorf("weight after expiry = %v", w["use1-az1"])
	}
}

func TestRealClockTimerFires(t *testing.T) {
	// In a synctest bubble the wall clock is virtual: receiving on the subscription blocks every
	// goroutine, so time jumps to the lease's expiry and time.AfterFunc fires.
	synctest.Test(t, func(t *testing.T) {
		s := zonalshift.New(zonalshift.Config{})
		defer s.Close()
		ch, cancel := s.Subscribe()
		defer cancel()
		start := time.Now()
		mustStart(t, s, zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1m"})
		<-ch // the start
		<-ch // the expiry
		if got := time.Since(start); got != time.Minute {
			t.Errorf("expiry signalled after %v, want 1m", got)
		}
		if w := s.Weights("fn", zones); w["use1-az1"] != 1 {
			t.Errorf("weight after expiry = %v", w["use1-az1"])
		}
	})
}
