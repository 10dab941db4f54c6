package zonalshift_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/azlens/azlens/emulator/zonalshift"
)

// newSDKClient serves the handler at the root of a server, as the front door does, and returns
// the AWS SDK's own ARC client pointed at it: only BaseEndpoint differs from a client of real ARC.
func newSDKClient(t *testing.T, s *zonalshift.Service) *arc.Client {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return arc.New(arc.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:   srv.Client(),
		// Errors must reach the test as they are, not be retried into a timeout.
		RetryMaxAttempts: 1,
	})
}

func TestSDKLifecycle(t *testing.T) {
	s, clk := newService(t)
	s.SetZones("fn", zones)
	c := newSDKClient(t, s)
	ctx := context.Background()

	started, err := c.StartZonalShift(ctx, &arc.StartZonalShiftInput{
		ResourceIdentifier: aws.String("fn"), AwayFrom: aws.String("use1-az2"),
		ExpiresIn: aws.String("30m"), Comment: aws.String("drill"),
	})
	if err != nil {
		t.Fatalf("StartZonalShift: %v", err)
	}
	if started.Status != types.ZonalShiftStatusActive || aws.ToString(started.AwayFrom) != "use1-az2" ||
		!aws.ToTime(started.StartTime).Equal(t0) || !aws.ToTime(started.ExpiryTime).Equal(t0.Add(30*time.Minute)) {
		t.Errorf("StartZonalShift = %+v", started)
	}
	id := started.ZonalShiftId

	// Paginate one at a time across two shifts to exercise nextToken.
	s.SetZones("other", zones)
	if _, err := c.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String("other"),
		AwayFrom: aws.String("use1-az1"), ExpiresIn: aws.String("1h"), Comment: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	var listed []types.ZonalShiftSummary
	pages := arc.NewListZonalShiftsPaginator(c, &arc.ListZonalShiftsInput{Status: types.ZonalShiftStatusActive, MaxResults: aws.Int32(1)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListZonalShifts: %v", err)
		}
		if len(p.Items) > 1 {
			t.Errorf("page of %d items with maxResults 1", len(p.Items))
		}
		listed = append(listed, p.Items...)
	}
	if len(listed) != 2 || aws.ToString(listed[0].ZonalShiftId) != aws.ToString(id) || listed[0].ShiftType != types.ShiftTypeZonalShift {
		t.Fatalf("listed %+v", listed)
	}
	filtered, err := c.ListZonalShifts(ctx, &arc.ListZonalShiftsInput{ResourceIdentifier: aws.String("other")})
	if err != nil || len(filtered.Items) != 1 || aws.ToString(filtered.Items[0].ResourceIdentifier) != "other" {
		t.Fatalf("ListZonalShifts(other) = %+v, %v", filtered, err)
	}

	// Update renews the lease; azlens's failback weight rides in a header the SDK can add.
	clk.Advance(10 * time.Minute)
	updated, err := c.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: id, ExpiresIn: aws.String("30m")},
		func(o *arc.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(zonalshift.FailbackWeightHeader, "0.25"))
		})
	if err != nil || !aws.ToTime(updated.ExpiryTime).Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("UpdateZonalShift = %+v, %v", updated, err)
	}
	if w := s.Weights("fn", zones); w["use1-az2"] != 0.25 {
		t.Errorf("weights after update with failback weight header = %v", w)
	}

	mr, err := c.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: aws.String("fn")})
	if err != nil || aws.ToString(mr.Name) != "fn" || len(mr.ZonalShifts) != 1 || mr.ZonalShifts[0].AppliedStatus != types.AppliedStatusApplied ||
		mr.AppliedWeights["use1-az2"] != 0.25 || mr.ZonalAutoshiftStatus != types.ZonalAutoshiftStatusDisabled {
		t.Fatalf("GetManagedResource = %+v, %v", mr, err)
	}
	all, err := c.ListManagedResources(ctx, &arc.ListManagedResourcesInput{})
	if err != nil || len(all.Items) != 2 || aws.ToString(all.Items[0].Name) != "fn" || len(all.Items[0].AvailabilityZones) != 3 {
		t.Fatalf("ListManagedResources = %+v, %v", all, err)
	}

	// A practice run is a PRACTICE_RUN, NOT_APPLIED under the zonal shift, and cancellable as one.
	pr, err := c.StartPracticeRun(ctx, &arc.StartPracticeRunInput{ResourceIdentifier: aws.String("fn"),
		AwayFrom: aws.String("use1-az1"), Comment: aws.String("practice")})
	if err != nil || !aws.ToTime(pr.ExpiryTime).Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("StartPracticeRun = %+v, %v", pr, err)
	}
	if _, err := c.CancelPracticeRun(ctx, &arc.CancelPracticeRunInput{ZonalShiftId: id}); !isValidation(err, "not a practice run") {
		t.Errorf("CancelPracticeRun of a zonal shift: %v", err)
	}
	if _, err := c.CancelPracticeRun(ctx, &arc.CancelPracticeRunInput{ZonalShiftId: pr.ZonalShiftId}); err != nil {
		t.Errorf("CancelPracticeRun: %v", err)
	}

	cancelled, err := c.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: id})
	if err != nil || cancelled.Status != types.ZonalShiftStatusCanceled {
		t.Fatalf("CancelZonalShift = %+v, %v", cancelled, err)
	}
	if w := s.Weights("fn", zones); w["use1-az2"] != 1 {
		t.Errorf("weights after cancel = %v", w)
	}
	autos, err := c.ListAutoshifts(ctx, &arc.ListAutoshiftsInput{})
	if err != nil || len(autos.Items) != 0 {
		t.Errorf("ListAutoshifts = %+v, %v", autos, err)
	}
}

func isValidation(err error, text string) bool {
	var v *types.ValidationException
	return errors.As(err, &v) && strings.Contains(v.ErrorMessage(), text)
}

// TestSDKErrors asserts every error path through the SDK's typed errors.
func TestSDKErrors(t *testing.T) {
	s, _ := newService(t)
	s.SetZones("fn", zones)
	c := newSDKClient(t, s)
	ctx := context.Background()

	start := func(expiresIn string) (*arc.StartZonalShiftOutput, error) {
		return c.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String("fn"),
			AwayFrom: aws.String("use1-az1"), ExpiresIn: aws.String(expiresIn), Comment: aws.String("c")})
	}
	_, err := start("5d")
	var ve *types.ValidationException
	if !errors.As(err, &ve) || ve.Reason != types.ValidationExceptionReasonInvalidExpiresIn || !strings.Contains(ve.ErrorMessage(), "expiresIn") {
		t.Errorf("bad expiresIn: %v", err)
	}
	_, err = c.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String("fn"),
		AwayFrom: aws.String("use1-az9"), ExpiresIn: aws.String("1m"), Comment: aws.String("c")})
	if !errors.As(err, &ve) || ve.Reason != types.ValidationExceptionReasonUnsupportedAz || !strings.Contains(ve.ErrorMessage(), "awayFrom") {
		t.Errorf("unknown zone: %v", err)
	}
	first, err := start("1m")
	if err != nil {
		t.Fatal(err)
	}
	_, err = start("1m")
	var ce *types.ConflictException
	if !errors.As(err, &ce) || ce.Reason != types.ConflictExceptionReasonZonalShiftAlreadyExists || aws.ToString(ce.ZonalShiftId) != aws.ToString(first.ZonalShiftId) {
		t.Errorf("second start: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: aws.String("00000000-0000-4000-8000-000000000000")}); !errors.As(err, &nf) {
		t.Errorf("cancel unknown: %v", err)
	}
	if _, err := c.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: aws.String("nobody")}); !errors.As(err, &nf) {
		t.Errorf("unknown resource: %v", err)
	}
	if _, err := c.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: first.ZonalShiftId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: first.ZonalShiftId, ExpiresIn: aws.String("1m")}); !errors.As(err, &ce) ||
		ce.Reason != types.ConflictExceptionReasonZonalShiftStatusNotActive {
		t.Errorf("update cancelled: %v", err)
	}
	if _, err := c.ListZonalShifts(ctx, &arc.ListZonalShiftsInput{NextToken: aws.String("bogus")}); !errors.As(err, &ve) || ve.Reason != types.ValidationExceptionReasonInvalidToken {
		t.Errorf("bad token: %v", err)
	}
	if _, err := c.UpdateZonalAutoshiftConfiguration(ctx, &arc.UpdateZonalAutoshiftConfigurationInput{ResourceIdentifier: aws.String("fn"),
		ZonalAutoshiftStatus: types.ZonalAutoshiftStatusEnabled}); !isValidation(err, "not supported") {
		t.Errorf("autoshift configuration: %v", err)
	}
	if _, err := c.CreatePracticeRunConfiguration(ctx, &arc.CreatePracticeRunConfigurationInput{ResourceIdentifier: aws.String("fn"),
		OutcomeAlarms: []types.ControlCondition{{AlarmIdentifier: aws.String("a"), Type: types.ControlConditionTypeCloudwatch}}}); !isValidation(err, "not supported") {
		t.Errorf("practice run configuration: %v", err)
	}

	// A malformed Authorization header (here: the signature cut off after signing) is refused
	// with ARC's AccessDeniedException.
	_, err = c.ListZonalShifts(ctx, &arc.ListZonalShiftsInput{}, func(o *arc.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("breakSignature",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						a := req.Header.Get("Authorization")
						req.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	})
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || !strings.Contains(ad.ErrorMessage(), "Signature") {
		t.Errorf("malformed Authorization: %v", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("malformed Authorization error code: %v", err)
	}
}
