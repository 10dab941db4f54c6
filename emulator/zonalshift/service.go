package zonalshift

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/internal/clock"
)

// defaultMaxEnded bounds the expired and cancelled shifts kept for listing, so a long-running
// emulator with a renewing exporter does not grow without limit.
const defaultMaxEnded = 1000

// Config configures a Service.
type Config struct {
	// Clock drives expiry. Nil means the wall clock; tests pass the fake in package
	// internal/clock/clocktest so that expiry can be driven without waiting.
	Clock clock.Clock
	// Logger logs shifts starting, ending and changing. Nil means discard.
	Logger *slog.Logger
	// MaxEnded is how many expired or cancelled shifts are kept for List. Zero means 1000.
	MaxEnded int
}

// Service holds the zonal shifts of every resource. It is safe for concurrent use.
type Service struct {
	clock    clock.Clock
	log      *slog.Logger
	maxEnded int

	mu      sync.Mutex
	shifts  []*ZonalShift // in start order; ended ones pruned oldest first beyond maxEnded
	byID    map[string]*ZonalShift
	zones   map[string][]string // resource → zones reported by the router or SetZones
	subs    map[int]chan struct{}
	nextID  int
	timer   clock.Timer
	timerAt time.Time
	closed  bool
}

// New returns an empty service.
func New(cfg Config) *Service {
	s := &Service{
		clock:    cfg.Clock,
		log:      cfg.Logger,
		maxEnded: cfg.MaxEnded,
		byID:     map[string]*ZonalShift{},
		zones:    map[string][]string{},
		subs:     map[int]chan struct{}{},
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxEnded <= 0 {
		s.maxEnded = defaultMaxEnded
	}
	return s
}

// Close stops the expiry timer. Weights and the other methods keep working (expiry is also
// evaluated on every call), but subscribers are no longer told when a lease lapses.
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// Subscribe returns a channel that receives a value after every change that may alter weights
// (start, update, cancel, expiry). Signals coalesce: the channel has room for one, so a slow
// reader sees at least one signal after the latest change, never a backlog. Call cancel to stop.
func (s *Service) Subscribe() (changes <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.subs[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

// SetZones records the zones a resource runs in, so awayFrom can be checked against them and
// GET /managedresources can list them. Weights records them too.
func (s *Service) SetZones(resource string, zones []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setZonesLocked(resource, zones)
}

func (s *Service) setZonesLocked(resource string, zones []string) {
	if slices.Equal(s.zones[resource], zones) {
		return
	}
	s.zones[resource] = slices.Clone(zones)
}

// Weights returns the traffic weight of each of zones for resource now: 1 for a normal zone; for
// the zone the applied shift moves traffic away from, the shift's failback weight (0 when none is
// set). The router divides traffic in proportion to these weights. A shift never takes the last
// zone out: if awayFrom is the only zone given, its weight stays 1. Weights also records zones as
// the resource's zones.
func (s *Service) Weights(resource string, zones []string) map[string]float64 {
	s.mu.Lock()
	changed := s.refreshLocked()
	s.setZonesLocked(resource, zones)
	w := s.weightsLocked(resource, zones)
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return w
}

func (s *Service) weightsLocked(resource string, zones []string) map[string]float64 {
	w := make(map[string]float64, len(zones))
	for _, z := range zones {
		w[z] = 1
	}
	a := s.appliedLocked(resource)
	if a == nil || len(zones) < 2 {
		return w
	}
	if _, ok := w[a.AwayFrom]; ok {
		w[a.AwayFrom] = 0
		if a.FailbackWeight != nil {
			w[a.AwayFrom] = *a.FailbackWeight
		}
	}
	return w
}

func (s *Service) appliedLocked(resource string) *ZonalShift {
	for _, z := range s.shifts {
		if z.ResourceIdentifier == resource && z.Status == StatusActive && z.AppliedStatus == Applied {
			return z
		}
	}
	return nil
}

// Start starts a shift. It fails with a ValidationException naming the bad field, or a
// ConflictException when the resource already has an active shift of the same type.
func (s *Service) Start(req StartRequest) (ZonalShift, error) {
	if err := validateResourceIdentifier(req.ResourceIdentifier); err != nil {
		return ZonalShift{}, validationError(ReasonInvalidResourceIdentifier, err)
	}
	if err := validateAwayFrom(req.AwayFrom); err != nil {
		return ZonalShift{}, validationError(ReasonInvalidAz, err)
	}
	if req.ExpiresIn == "" {
		return ZonalShift{}, validationError(ReasonMissingValue, fmt.Errorf("expiresIn is required"))
	}
	d, err := ParseExpiresIn(req.ExpiresIn)
	if err != nil {
		return ZonalShift{}, validationError(ReasonInvalidExpiresIn, err)
	}
	if err := validateComment(req.Comment); err != nil {
		return ZonalShift{}, validationError(ReasonInvalidRequest, err)
	}
	typ := req.Type
	if typ == "" {
		typ = TypeManual
	}
	if typ.precedence() == 0 {
		return ZonalShift{}, validationError(ReasonInvalidRequest,
			fmt.Errorf("type must be manual, automatic or practice, got %q", req.Type))
	}
	if err := validateFailbackWeight(req.FailbackWeight); err != nil {
		return ZonalShift{}, validationError(ReasonInvalidRequest, err)
	}

	s.mu.Lock()
	if expired, err := s.checkStartLocked(req, typ); err != nil {
		s.mu.Unlock()
		if expired {
			s.notify()
		}
		return ZonalShift{}, err
	}
	now := s.clock.Now()
	z := &ZonalShift{
		ZonalShiftID:       newID(),
		ResourceIdentifier: req.ResourceIdentifier,
		AwayFrom:           req.AwayFrom,
		StartTime:          EpochTime{now},
		ExpiryTime:         EpochTime{now.Add(d)},
		Status:             StatusActive,
		Comment:            req.Comment,
		Type:               typ,
		ShiftType:          arcShiftTypes[typ],
		AppliedStatus:      NotApplied,
		FailbackWeight:     cloneFloat(req.FailbackWeight),
	}
	if typ == TypePractice {
		z.PracticeRunOutcome = OutcomePending
	}
	s.shifts = append(s.shifts, z)
	s.byID[z.ZonalShiftID] = z
	s.recomputeAppliedLocked()
	s.rearmLocked(now)
	out := snapshot(z)
	s.mu.Unlock()

	s.log.Info("zonal shift started", "id", out.ZonalShiftID, "resource", out.ResourceIdentifier,
		"awayFrom", out.AwayFrom, "type", out.Type, "expiresIn", req.ExpiresIn, "applied", out.AppliedStatus)
	s.notify()
	return out, nil
}

// checkStartLocked refuses a start on an unknown zone of a known resource, or a second active
// shift of the same type on the resource. It first expires lapsed leases and reports whether any
// did.
func (s *Service) checkStartLocked(req StartRequest, typ ShiftType) (expired bool, err error) {
	expired = s.refreshLocked()
	if zones, ok := s.zones[req.ResourceIdentifier]; ok && !slices.Contains(zones, req.AwayFrom) {
		return expired, validationError(ReasonUnsupportedAz,
			fmt.Errorf("awayFrom %q is not a zone of %q (zones: %v)", req.AwayFrom, req.ResourceIdentifier, zones))
	}
	for _, z := range s.shifts {
		if z.ResourceIdentifier == req.ResourceIdentifier && z.Status == StatusActive && z.Type == typ {
			return expired, &Error{
				Type:         ConflictException,
				Reason:       ReasonZonalShiftAlreadyExists,
				ZonalShiftID: z.ZonalShiftID,
				Message: fmt.Sprintf("resource %q already has an active %s zonal shift %s; update or cancel it",
					req.ResourceIdentifier, typ, z.ZonalShiftID),
			}
		}
	}
	return expired, nil
}

// Get returns one shift.
func (s *Service) Get(id string) (ZonalShift, error) {
	s.mu.Lock()
	changed := s.refreshLocked()
	z, ok := s.byID[id]
	var out ZonalShift
	if ok {
		out = snapshot(z)
	}
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	if !ok {
		return ZonalShift{}, notFound(id)
	}
	return out, nil
}

// List returns the shifts matching f, in start order.
func (s *Service) List(f ListFilter) ([]ZonalShift, error) {
	switch f.Status {
	case "", StatusActive, StatusExpired, StatusCanceled:
	default:
		return nil, validationError(ReasonInvalidStatus,
			fmt.Errorf("status must be ACTIVE, EXPIRED or CANCELED, got %q", f.Status))
	}
	s.mu.Lock()
	changed := s.refreshLocked()
	out := []ZonalShift{}
	for _, z := range s.shifts {
		if (f.Status == "" || z.Status == f.Status) &&
			(f.ResourceIdentifier == "" || z.ResourceIdentifier == f.ResourceIdentifier) {
			out = append(out, snapshot(z))
		}
	}
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return out, nil
}

// Update renews or edits an active shift: ExpiresIn moves the expiry to now + ExpiresIn.
func (s *Service) Update(id string, req UpdateRequest) (ZonalShift, error) {
	var d time.Duration
	if req.ExpiresIn == "" && req.Comment == nil && req.FailbackWeight == nil {
		return ZonalShift{}, validationError(ReasonMissingValue,
			fmt.Errorf("one of expiresIn, comment or failbackWeight is required"))
	}
	if req.ExpiresIn != "" {
		var err error
		if d, err = ParseExpiresIn(req.ExpiresIn); err != nil {
			return ZonalShift{}, validationError(ReasonInvalidExpiresIn, err)
		}
	}
	if req.Comment != nil {
		if err := validateComment(*req.Comment); err != nil {
			return ZonalShift{}, validationError(ReasonInvalidRequest, err)
		}
	}
	if err := validateFailbackWeight(req.FailbackWeight); err != nil {
		return ZonalShift{}, validationError(ReasonInvalidRequest, err)
	}

	s.mu.Lock()
	changed := s.refreshLocked()
	z, ok := s.byID[id]
	if !ok {
		s.mu.Unlock()
		if changed {
			s.notify()
		}
		return ZonalShift{}, notFound(id)
	}
	if z.Status != StatusActive {
		s.mu.Unlock()
		if changed {
			s.notify()
		}
		return ZonalShift{}, notActive(z)
	}
	now := s.clock.Now()
	if d > 0 {
		z.ExpiryTime = EpochTime{now.Add(d)}
	}
	if req.Comment != nil {
		z.Comment = *req.Comment
	}
	if req.FailbackWeight != nil {
		z.FailbackWeight = cloneFloat(req.FailbackWeight)
	}
	s.rearmLocked(now)
	out := snapshot(z)
	s.mu.Unlock()

	s.log.Debug("zonal shift updated", "id", id, "expiresIn", req.ExpiresIn)
	s.notify()
	return out, nil
}

// Cancel ends an active shift now.
func (s *Service) Cancel(id string) (ZonalShift, error) {
	s.mu.Lock()
	changed := s.refreshLocked()
	z, ok := s.byID[id]
	if !ok {
		s.mu.Unlock()
		if changed {
			s.notify()
		}
		return ZonalShift{}, notFound(id)
	}
	if z.Status != StatusActive {
		s.mu.Unlock()
		if changed {
			s.notify()
		}
		return ZonalShift{}, notActive(z)
	}
	z.Status = StatusCanceled
	z.AppliedStatus = NotApplied
	if z.Type == TypePractice {
		z.PracticeRunOutcome = OutcomeInterrupted
	}
	s.recomputeAppliedLocked()
	s.pruneLocked()
	s.rearmLocked(s.clock.Now())
	out := snapshot(z)
	s.mu.Unlock()

	s.log.Info("zonal shift cancelled", "id", id, "resource", out.ResourceIdentifier, "awayFrom", out.AwayFrom)
	s.notify()
	return out, nil
}

// ManagedResource returns the resource's zones, weights now and active shifts. A resource with
// no known zones and no shift ever is a ResourceNotFoundException.
func (s *Service) ManagedResource(resource string) (ManagedResource, error) {
	s.mu.Lock()
	changed := s.refreshLocked()
	mr, known := s.managedLocked(resource)
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	if !known {
		return ManagedResource{}, &Error{Type: ResourceNotFoundException,
			Message: fmt.Sprintf("managed resource %q not found", resource)}
	}
	return mr, nil
}

// ManagedResources returns every resource the service knows (zones reported, or a shift ever
// started), sorted by identifier.
func (s *Service) ManagedResources() []ManagedResource {
	s.mu.Lock()
	changed := s.refreshLocked()
	names := map[string]bool{}
	for r := range s.zones {
		names[r] = true
	}
	for _, z := range s.shifts {
		names[z.ResourceIdentifier] = true
	}
	out := make([]ManagedResource, 0, len(names))
	for _, r := range slices.Sorted(maps.Keys(names)) {
		mr, _ := s.managedLocked(r)
		out = append(out, mr)
	}
	s.mu.Unlock()
	if changed {
		s.notify()
	}
	return out
}

func (s *Service) managedLocked(resource string) (ManagedResource, bool) {
	zones, known := s.zones[resource]
	mr := ManagedResource{Name: resource, AvailabilityZones: slices.Clone(zones), ZonalShifts: []ZonalShift{},
		Autoshifts: []struct{}{}, ZonalAutoshiftStatus: "DISABLED", PracticeRunStatus: "DISABLED"}
	if strings.HasPrefix(resource, "arn:") {
		mr.Arn = resource
	}
	if mr.AvailabilityZones == nil {
		mr.AvailabilityZones = []string{}
	}
	for _, z := range s.shifts {
		if z.ResourceIdentifier != resource {
			continue
		}
		known = true
		if z.Status == StatusActive {
			mr.ZonalShifts = append(mr.ZonalShifts, snapshot(z))
		}
	}
	if a := s.appliedLocked(resource); a != nil {
		mr.ShiftedAwayFrom = a.AwayFrom
	}
	mr.AppliedWeights = s.weightsLocked(resource, zones)
	return mr, known
}

// StartPracticeRun starts a practice run: a shift of type practice that lasts ARC's 30 minutes.
// Unlike ARC, it needs no practice run configuration on the resource.
func (s *Service) StartPracticeRun(resource, awayFrom, comment string) (ZonalShift, error) {
	if comment == "" {
		return ZonalShift{}, validationError(ReasonMissingValue, fmt.Errorf("comment is required"))
	}
	return s.Start(StartRequest{ResourceIdentifier: resource, AwayFrom: awayFrom, Comment: comment,
		ExpiresIn: fmt.Sprintf("%dm", int(practiceRunLength/time.Minute)), Type: TypePractice})
}

// CancelPracticeRun cancels a practice run; any other shift is a ValidationException.
func (s *Service) CancelPracticeRun(id string) (ZonalShift, error) {
	z, err := s.Get(id)
	if err != nil {
		return ZonalShift{}, err
	}
	if z.Type != TypePractice {
		return ZonalShift{}, validationError(ReasonUnsupportedPracticeCancelShiftType,
			fmt.Errorf("zonalShiftId %s is a %s, not a practice run; cancel it with CancelZonalShift", id, z.ShiftType))
	}
	return s.Cancel(id)
}

func notActive(z *ZonalShift) *Error {
	return &Error{
		Type:         ConflictException,
		Reason:       ReasonZonalShiftStatusNotActive,
		ZonalShiftID: z.ZonalShiftID,
		Message:      fmt.Sprintf("zonal shift %s is %s, not ACTIVE", z.ZonalShiftID, z.Status),
	}
}

// refreshLocked expires lapsed leases and reports whether anything changed.
func (s *Service) refreshLocked() bool {
	now := s.clock.Now()
	expired := false
	for _, z := range s.shifts {
		if z.Status == StatusActive && !now.Before(z.ExpiryTime.Time) {
			z.Status = StatusExpired
			z.AppliedStatus = NotApplied
			if z.Type == TypePractice {
				z.PracticeRunOutcome = OutcomeSucceeded
			}
			expired = true
			s.log.Info("zonal shift expired", "id", z.ZonalShiftID, "resource", z.ResourceIdentifier,
				"awayFrom", z.AwayFrom)
		}
	}
	if !expired {
		return false
	}
	s.recomputeAppliedLocked()
	s.pruneLocked()
	s.rearmLocked(now)
	return true
}

// recomputeAppliedLocked marks, per resource, the active shift of highest precedence APPLIED
// and every other one NOT_APPLIED.
func (s *Service) recomputeAppliedLocked() {
	best := map[string]*ZonalShift{}
	for _, z := range s.shifts {
		if z.Status != StatusActive {
			continue
		}
		if b := best[z.ResourceIdentifier]; b == nil || z.Type.precedence() > b.Type.precedence() {
			best[z.ResourceIdentifier] = z
		}
	}
	for _, z := range s.shifts {
		if z.Status == StatusActive && best[z.ResourceIdentifier] == z {
			if z.AppliedStatus != Applied {
				s.log.Info("zonal shift applied", "id", z.ZonalShiftID, "resource", z.ResourceIdentifier,
					"awayFrom", z.AwayFrom, "type", z.Type)
			}
			z.AppliedStatus = Applied
		} else {
			z.AppliedStatus = NotApplied
		}
	}
}

// pruneLocked drops the oldest ended shifts beyond maxEnded.
func (s *Service) pruneLocked() {
	ended := 0
	for _, z := range s.shifts {
		if z.Status != StatusActive {
			ended++
		}
	}
	drop := ended - s.maxEnded
	if drop <= 0 {
		return
	}
	s.shifts = slices.DeleteFunc(s.shifts, func(z *ZonalShift) bool {
		if drop > 0 && z.Status != StatusActive {
			drop--
			delete(s.byID, z.ZonalShiftID)
			return true
		}
		return false
	})
}

// rearmLocked sets the timer for the earliest expiry, so subscribers hear about a lapsed lease
// even when nobody calls the service.
func (s *Service) rearmLocked(now time.Time) {
	if s.closed {
		return
	}
	var next time.Time
	for _, z := range s.shifts {
		if z.Status == StatusActive && (next.IsZero() || z.ExpiryTime.Before(next)) {
			next = z.ExpiryTime.Time
		}
	}
	if s.timer != nil && next.Equal(s.timerAt) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.timerAt = next
	if next.IsZero() {
		return
	}
	s.timer = s.clock.AfterFunc(next.Sub(now), s.onTimer)
}

func (s *Service) onTimer() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.timer = nil
	s.timerAt = time.Time{}
	changed := s.refreshLocked()
	s.rearmLocked(s.clock.Now())
	s.mu.Unlock()
	if changed {
		s.notify()
	}
}

func (s *Service) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func snapshot(z *ZonalShift) ZonalShift {
	out := *z
	out.FailbackWeight = cloneFloat(z.FailbackWeight)
	return out
}

func cloneFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

// newID returns a random UUID (version 4), the form of ARC's zonal shift IDs.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
