package zonalshift

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// ShiftType says who started a shift; it decides precedence.
type ShiftType string

// Shift types, highest precedence first.
const (
	TypeManual    ShiftType = "manual"
	TypeAutomatic ShiftType = "automatic"
	TypePractice  ShiftType = "practice"
)

// precedence orders types: a higher number wins the resource.
func (t ShiftType) precedence() int {
	switch t {
	case TypeManual:
		return 3
	case TypeAutomatic:
		return 2
	case TypePractice:
		return 1
	}
	return 0
}

// Status is a shift's lifecycle state.
type Status string

// Shift statuses, spelled as in ARC.
const (
	StatusActive   Status = "ACTIVE"
	StatusExpired  Status = "EXPIRED"
	StatusCanceled Status = "CANCELED"
)

// AppliedStatus says whether an active shift is the one that moves traffic now.
type AppliedStatus string

// Applied statuses, spelled as in ARC.
const (
	Applied    AppliedStatus = "APPLIED"
	NotApplied AppliedStatus = "NOT_APPLIED"
)

// Limits, as ARC's API reference gives them.
const (
	maxResourceIdentifierLen = 1024
	maxAwayFromLen           = 20
	maxCommentLen            = 128
	maxExpiresInMinutes      = 1440
	maxExpiresInHours        = 72
)

// EpochTime marshals as epoch seconds (a JSON number), as ARC's REST JSON does.
type EpochTime struct{ time.Time }

// MarshalJSON writes seconds since the epoch with millisecond precision.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(t.UnixMilli())/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds; null leaves the zero time.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = EpochTime{}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("epoch time: %w", err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return fmt.Errorf("epoch time %v out of range", f)
	}
	t.Time = time.UnixMilli(int64(math.Round(f * 1000))).UTC()
	return nil
}

// ARC's shiftType of each of the emulator's types: a shift started with StartZonalShift is a
// ZONAL_SHIFT whoever started it (a person or the exporter), one started with StartPracticeRun a
// PRACTICE_RUN; "automatic" stands for the shifts AWS starts itself (zonal autoshift).
var arcShiftTypes = map[ShiftType]string{
	TypeManual:    "ZONAL_SHIFT",
	TypeAutomatic: "ZONAL_AUTOSHIFT",
	TypePractice:  "PRACTICE_RUN",
}

// Practice run outcomes, as ARC spells them.
const (
	OutcomePending     = "PENDING"
	OutcomeSucceeded   = "SUCCEEDED"
	OutcomeInterrupted = "INTERRUPTED"
)

// practiceRunLength is how long ARC's practice runs last.
const practiceRunLength = 30 * time.Minute

// ZonalShift is a snapshot of one shift in ARC's shape (the fields of ZonalShift,
// ZonalShiftSummary and ZonalShiftInResource together), plus azlens's type and failbackWeight,
// which ARC's clients ignore.
type ZonalShift struct {
	ZonalShiftID       string        `json:"zonalShiftId"`
	ResourceIdentifier string        `json:"resourceIdentifier"`
	AwayFrom           string        `json:"awayFrom"`
	StartTime          EpochTime     `json:"startTime"`
	ExpiryTime         EpochTime     `json:"expiryTime"`
	Status             Status        `json:"status"`
	Comment            string        `json:"comment"`
	ShiftType          string        `json:"shiftType"`
	AppliedStatus      AppliedStatus `json:"appliedStatus"`
	// PracticeRunOutcome is set for practice runs: PENDING while active, SUCCEEDED when the run
	// lasted its 30 minutes, INTERRUPTED when it was cancelled.
	PracticeRunOutcome string `json:"practiceRunOutcome,omitempty"`
	// Type is azlens's precedence class behind ShiftType: manual, automatic or practice.
	Type ShiftType `json:"type"`
	// FailbackWeight is the share of its normal traffic the awayFrom zone gets back while the
	// shift is applied (a staged fail-back: 0.1, 0.25, 0.5, 1). Nil means 0: fully shifted away.
	FailbackWeight *float64 `json:"failbackWeight,omitempty"`
}

// StartRequest is the body of POST /zonalshifts.
type StartRequest struct {
	ResourceIdentifier string `json:"resourceIdentifier"`
	AwayFrom           string `json:"awayFrom"`
	// ExpiresIn is ARC's duration: a whole number of minutes (1-1440) or hours (1-72), "30m", "2h".
	ExpiresIn string `json:"expiresIn"`
	Comment   string `json:"comment"`
	// Type empty means manual, as a shift started by a person through ARC's StartZonalShift.
	Type           ShiftType `json:"type,omitempty"`
	FailbackWeight *float64  `json:"failbackWeight,omitempty"`
}

// UpdateRequest is the body of PATCH /zonalshifts/{id}; nil or empty fields are left unchanged.
type UpdateRequest struct {
	// ExpiresIn, when set, moves the expiry to now + ExpiresIn (a renewal).
	ExpiresIn      string   `json:"expiresIn,omitempty"`
	Comment        *string  `json:"comment,omitempty"`
	FailbackWeight *float64 `json:"failbackWeight,omitempty"`
}

// ListFilter narrows List; empty fields match everything.
type ListFilter struct {
	Status             Status
	ResourceIdentifier string
}

// ManagedResource is the answer of GET /managedresources/{resource} and an item of
// GET /managedresources, in ARC's shape: the emulator has no zonal autoshift, so
// zonalAutoshiftStatus is always DISABLED and autoshifts always empty.
type ManagedResource struct {
	// Arn is the resource identifier when it is an ARN; a bare name (a function) has none.
	Arn  string `json:"arn,omitempty"`
	Name string `json:"name"`
	// AvailabilityZones are the zones the router reported for the resource (or SetZones set).
	AvailabilityZones []string `json:"availabilityZones"`
	// AppliedWeights is the traffic weight of each zone now, as Weights returns it.
	AppliedWeights map[string]float64 `json:"appliedWeights"`
	// ShiftedAwayFrom is the applied shift's awayFrom, empty when no shift is applied.
	ShiftedAwayFrom string `json:"shiftedAwayFrom,omitempty"`
	// ZonalShifts are the resource's active shifts, applied or not.
	ZonalShifts          []ZonalShift `json:"zonalShifts"`
	Autoshifts           []struct{}   `json:"autoshifts"`
	ZonalAutoshiftStatus string       `json:"zonalAutoshiftStatus"`
	PracticeRunStatus    string       `json:"practiceRunStatus"`
}

// ParseExpiresIn parses ARC's expiresIn: a whole number of minutes (1-1440) or hours (1-72)
// followed by "m" or "h", without a space.
func ParseExpiresIn(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 5 {
		return 0, fmt.Errorf("expiresIn must be minutes 1-1440 (\"30m\") or hours 1-72 (\"2h\"), got %q", s)
	}
	unit := s[len(s)-1]
	digits := s[:len(s)-1]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("expiresIn must be minutes 1-1440 (\"30m\") or hours 1-72 (\"2h\"), got %q", s)
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil || digits[0] == '0' {
		return 0, fmt.Errorf("expiresIn must be minutes 1-1440 (\"30m\") or hours 1-72 (\"2h\"), got %q", s)
	}
	switch unit {
	case 'm':
		if n < 1 || n > maxExpiresInMinutes {
			return 0, fmt.Errorf("expiresIn in minutes must be 1-%d, got %q", maxExpiresInMinutes, s)
		}
		return time.Duration(n) * time.Minute, nil
	case 'h':
		if n < 1 || n > maxExpiresInHours {
			return 0, fmt.Errorf("expiresIn in hours must be 1-%d, got %q", maxExpiresInHours, s)
		}
		return time.Duration(n) * time.Hour, nil
	}
	return 0, fmt.Errorf("expiresIn must be minutes 1-1440 (\"30m\") or hours 1-72 (\"2h\"), got %q", s)
}

func validateFailbackWeight(w *float64) error {
	if w == nil {
		return nil
	}
	if math.IsNaN(*w) || *w < 0 || *w > 1 {
		return fmt.Errorf("failbackWeight must be between 0 and 1, got %v", *w)
	}
	return nil
}

func validateComment(c string) error {
	if len(c) > maxCommentLen {
		return fmt.Errorf("comment must be at most %d characters, got %d", maxCommentLen, len(c))
	}
	return nil
}

func validateResourceIdentifier(r string) error {
	if r == "" {
		return fmt.Errorf("resourceIdentifier is required")
	}
	if len(r) > maxResourceIdentifierLen {
		return fmt.Errorf("resourceIdentifier must be at most %d characters, got %d", maxResourceIdentifierLen, len(r))
	}
	for _, c := range r {
		if c < 0x21 || c == 0x7f {
			return fmt.Errorf("resourceIdentifier must not contain spaces or control characters")
		}
	}
	return nil
}

func validateAwayFrom(z string) error {
	if z == "" {
		return fmt.Errorf("awayFrom is required")
	}
	if len(z) > maxAwayFromLen {
		return fmt.Errorf("awayFrom must be at most %d characters, got %d", maxAwayFromLen, len(z))
	}
	for _, c := range z {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("awayFrom must be an availability zone name or ID such as use1-az1, got %q", z)
		}
	}
	return nil
}
