package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/azlens/azlens/internal/retryafter"
)

// failbackWeightHeader carries azlens's failbackWeight to the local region's zonal shift API,
// which reads it on StartZonalShift and UpdateZonalShift; real ARC ignores it.
const failbackWeightHeader = "X-Azlens-Failback-Weight"

// signingRegion is the region a local endpoint is signed for when none is configured: the local
// region accepts any signature, but the SDK needs a region to sign at all.
const signingRegion = "us-east-1"

// zonalShift is the part of ARC's ZonalShiftSummary the exporter uses. Times are not read:
// renewal is paced by the exporter's own clock, so a skewed API clock cannot make it renew too
// late.
type zonalShift struct {
	ZonalShiftID, ResourceIdentifier, AwayFrom, Status, Comment string
	// ShiftType is ARC's: ZONAL_SHIFT for shifts started with StartZonalShift (by this exporter
	// or a person), else ZONAL_AUTOSHIFT, PRACTICE_RUN or FIS_EXPERIMENT.
	ShiftType string
}

// apiClient is ARC's zonal shift API through the AWS SDK: credentials from the default chain,
// SigV4 signing, the SDK's retries, and the endpoint of real ARC or of a local region.
type apiClient struct {
	arc *arc.Client
}

func newAPIClient(ctx context.Context, cfg *Config, hc *http.Client) (*apiClient, error) {
	// hc (the confighttp client: tls, proxy, timeout) is given to the ARC client below, not to
	// the configuration loader, which would try to add AWS_CA_BUNDLE to it and cannot with an
	// *http.Client; the credential providers keep the SDK's own client.
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, errors.New("region must be set (or AWS_REGION, or a region in the shared AWS config) to reach ARC; or set endpoint to a local region")
		}
		awsCfg.Region = signingRegion
	}
	client := arc.NewFromConfig(awsCfg, func(o *arc.Options) {
		o.HTTPClient = hc
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(strings.TrimRight(cfg.Endpoint, "/"))
		}
	})
	return &apiClient{arc: client}, nil
}

// maxListPages bounds one listing: a resource has a handful of active shifts, and an API that
// keeps handing out new tokens must not hold a push forever.
const maxListPages = 20

// listActive returns the resource's active shifts, every page of them.
func (c *apiClient) listActive(ctx context.Context, resource string) ([]zonalShift, error) {
	var out []zonalShift
	pages := arc.NewListZonalShiftsPaginator(c.arc, &arc.ListZonalShiftsInput{
		Status: types.ZonalShiftStatusActive, ResourceIdentifier: aws.String(resource),
	}, func(o *arc.ListZonalShiftsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for n := 0; pages.HasMorePages(); n++ {
		if n == maxListPages {
			return nil, consumererror.NewPermanent(fmt.Errorf("list zonal shifts: more than %d pages for %s", maxListPages, resource))
		}
		p, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify("list zonal shifts", err)
		}
		for _, z := range p.Items {
			out = append(out, zonalShift{
				ZonalShiftID: aws.ToString(z.ZonalShiftId), ResourceIdentifier: aws.ToString(z.ResourceIdentifier),
				AwayFrom: aws.ToString(z.AwayFrom), Status: string(z.Status), Comment: aws.ToString(z.Comment),
				ShiftType: string(z.ShiftType),
			})
		}
	}
	return out, nil
}

// start starts a zonal shift; weight, when non-nil, is sent as azlens's failback weight.
func (c *apiClient) start(ctx context.Context, resource, awayFrom, expiresIn, comment string, weight *float64) (string, error) {
	out, err := c.arc.StartZonalShift(ctx, &arc.StartZonalShiftInput{
		ResourceIdentifier: aws.String(resource), AwayFrom: aws.String(awayFrom),
		ExpiresIn: aws.String(expiresIn), Comment: aws.String(comment),
	}, withWeight(weight))
	if err != nil {
		return "", classify("start zonal shift", err)
	}
	return aws.ToString(out.ZonalShiftId), nil
}

// update renews (expiresIn non-empty) and/or re-weighs (weight non-nil) a shift.
func (c *apiClient) update(ctx context.Context, id, expiresIn string, weight *float64) error {
	in := &arc.UpdateZonalShiftInput{ZonalShiftId: aws.String(id)}
	if expiresIn != "" {
		in.ExpiresIn = aws.String(expiresIn)
	}
	if _, err := c.arc.UpdateZonalShift(ctx, in, withWeight(weight)); err != nil {
		return classify("update zonal shift", err)
	}
	return nil
}

func (c *apiClient) cancel(ctx context.Context, id string) error {
	if _, err := c.arc.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: aws.String(id)}); err != nil {
		return classify("cancel zonal shift", err)
	}
	return nil
}

func withWeight(w *float64) func(*arc.Options) {
	return func(o *arc.Options) {
		if w != nil {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(failbackWeightHeader, strconv.FormatFloat(*w, 'f', -1, 64)))
		}
	}
}

// apiError is an error answer of ARC, after the SDK's own retries.
type apiError struct {
	Op      string
	Status  int
	Type    string
	Message string
	err     error
}

func (e *apiError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, e.Type, e.Message)
	}
	return fmt.Sprintf("%s: %d: %s", e.Op, e.Status, e.Message)
}

func (e *apiError) Unwrap() error { return e.err }

// classify turns an SDK error into a retryable or permanent one. 404 and 409 are retryable: they
// mean the state changed between the read and the write of this push, and the retried push reads
// it again. 408, 429 and 5xx are retryable too (the SDK has already retried them with backoff);
// other 4xx are permanent: the request will not get better. Errors without an answer (network,
// credentials) are retryable: a credential source may come back.
func classify(op string, err error) error {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() == 0 { // no answer at all
		if errors.Is(err, context.Canceled) {
			return consumererror.NewPermanent(fmt.Errorf("%s: %w", op, err))
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &apiError{Op: op, Status: re.HTTPStatusCode(), err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Type, e.Message = api.ErrorCode(), api.ErrorMessage()
	}
	const maxMessage = 256
	if len(e.Message) > maxMessage {
		e.Message = strings.ToValidUTF8(e.Message[:maxMessage], "") + "…"
	}
	if e.Message == "" {
		e.Message = http.StatusText(e.Status)
	}
	switch code := e.Status; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		// The SDK's retries are spent; the next push waits as long as ARC asked.
		d, _ := retryafter.Parse(re.Response.Header.Get("Retry-After"), time.Now())
		return exporterhelper.NewThrottleRetry(e, d)
	case code >= 500, code == http.StatusNotFound, code == http.StatusConflict, code == http.StatusRequestTimeout:
		return e
	}
	return consumererror.NewPermanent(e)
}

func isAPIError(err error, status int) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == status
}
