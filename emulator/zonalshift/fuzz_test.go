package zonalshift_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/clock/clocktest"
)

// checkResponse asserts what must hold for any body: no 5xx, and a JSON answer that is either a
// zonal shift or an error with a type and a message.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case 200:
		var z zonalshift.ZonalShift
		if err := json.Unmarshal(rec.Body.Bytes(), &z); err != nil || z.ZonalShiftID == "" || z.Status == "" {
			t.Fatalf("200 with %q (%v)", rec.Body, err)
		}
	case 400, 404, 409:
		var e zonalshift.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type == "" || e.Message == "" {
			t.Fatalf("%d with %q (%v)", rec.Code, rec.Body, err)
		}
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func FuzzStartBody(f *testing.F) {
	for _, s := range []string{
		`{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"30m","comment":"c","type":"automatic"}`,
		`{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"72h","failbackWeight":0.5}`,
		`{"resourceIdentifier":"","awayFrom":"use1-az1","expiresIn":"1m"}`,
		`{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"1m","failbackWeight":1e309}`,
		`{"type":null}`, `[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := zonalshift.New(zonalshift.Config{Clock: clocktest.NewClock(t0)})
		defer s.Close()
		h := s.Handler()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/zonalshifts", strings.NewReader(body)))
		checkResponse(t, rec)
		if rec.Code == 200 {
			// Whatever was accepted is a valid lease: ACTIVE, applied, expiring within 72 h.
			var z zonalshift.ZonalShift
			_ = json.Unmarshal(rec.Body.Bytes(), &z)
			if z.Status != zonalshift.StatusActive || z.AppliedStatus != zonalshift.Applied ||
				!z.ExpiryTime.After(t0) || z.ExpiryTime.Sub(t0) > 72*time.Hour {
				t.Fatalf("accepted shift %+v", z)
			}
			if w := s.Weights(z.ResourceIdentifier, []string{z.AwayFrom, "other-az"}); w["other-az"] != 1 {
				t.Fatalf("weights %v", w)
			}
		}
	})
}

func FuzzUpdateBody(f *testing.F) {
	for _, s := range []string{
		`{"expiresIn":"1m"}`, `{"comment":"renew"}`, `{"failbackWeight":0.1}`, `{"failbackWeight":-1}`,
		`{}`, `{"expiresIn":""}`, `{"comment":null}`, `[1]`, `{"expiresIn":"9999999999999999999m"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s := zonalshift.New(zonalshift.Config{Clock: clocktest.NewClock(t0)})
		defer s.Close()
		z, err := s.Start(zonalshift.StartRequest{ResourceIdentifier: "fn", AwayFrom: "use1-az1", ExpiresIn: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPatch, "/zonalshifts/"+z.ZonalShiftID, strings.NewReader(body)))
		checkResponse(t, rec)
		got, err := s.Get(z.ZonalShiftID)
		if err != nil {
			t.Fatal(err)
		}
		if w := got.FailbackWeight; w != nil && (*w < 0 || *w > 1) {
			t.Fatalf("failbackWeight %v stored", *w)
		}
		if got.ExpiryTime.Sub(t0) > 72*time.Hour {
			t.Fatalf("expiry %v beyond 72h", got.ExpiryTime)
		}
	})
}

func FuzzParseExpiresIn(f *testing.F) {
	for _, s := range []string{"1m", "1440m", "72h", "73h", "0m", "1d", "", "1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := zonalshift.ParseExpiresIn(s)
		if err == nil && (d < time.Minute || d > 72*time.Hour) {
			t.Fatalf("ParseExpiresIn(%q) = %v", s, d)
		}
		if err != nil && d != 0 {
			t.Fatalf("ParseExpiresIn(%q) = %v with error %v", s, d, err)
		}
	})
}

func FuzzEpochTime(f *testing.F) {
	for _, s := range []string{"1.7e9", "null", "0", "-1", "1e400", `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e zonalshift.EpochTime
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("marshal %v: %v", e, err)
		}
		var back zonalshift.EpochTime
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(e.Time) {
			t.Fatalf("round trip %s → %s → %v (%v)", s, b, back, err)
		}
	})
}

// FuzzFailbackWeightHeader: the X-Azlens-Failback-Weight header is outside bytes too; whatever it
// holds, the answer is a shift with a weight from 0 to 1 or an error naming the header.
func FuzzFailbackWeightHeader(f *testing.F) {
	for _, s := range []string{"0.25", "1", "0", "-0", "NaN", "Inf", "1e309", "0x1p-2", " 0.5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s := zonalshift.New(zonalshift.Config{Clock: clocktest.NewClock(t0)})
		defer s.Close()
		r := httptest.NewRequest(http.MethodPost, "/zonalshifts",
			strings.NewReader(`{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"30m","comment":"c"}`))
		r.Header.Set(zonalshift.FailbackWeightHeader, v)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		checkResponse(t, rec)
		if rec.Code == 200 {
			var z zonalshift.ZonalShift
			_ = json.Unmarshal(rec.Body.Bytes(), &z)
			if z.FailbackWeight != nil && !(*z.FailbackWeight >= 0 && *z.FailbackWeight <= 1) {
				t.Fatalf("accepted weight %v from %q", *z.FailbackWeight, v)
			}
		} else if !strings.Contains(rec.Body.String(), "ailback") {
			t.Fatalf("error does not name the weight: %s", rec.Body)
		}
	})
}
