package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/azlens/azlens/internal/retryafter"
)

// maxResponseBytes bounds what is read of an API answer; a list of shifts is far smaller.
const maxResponseBytes = 4 << 20

// Shift types and statuses as the API spells them.
const (
	typeManual    = "manual"
	typeAutomatic = "automatic"
	statusActive  = "ACTIVE"
)

// zonalShift is the part of the API's zonal shift object the exporter uses. Times are not
// decoded: renewal is paced by the exporter's own clock, so a skewed API clock cannot make it
// renew too late.
type zonalShift struct {
	ZonalShiftID       string   `json:"zonalShiftId"`
	ResourceIdentifier string   `json:"resourceIdentifier"`
	AwayFrom           string   `json:"awayFrom"`
	Status             string   `json:"status"`
	Comment            string   `json:"comment"`
	Type               string   `json:"type"`
	AppliedStatus      string   `json:"appliedStatus"`
	FailbackWeight     *float64 `json:"failbackWeight"`
}

type startRequest struct {
	ResourceIdentifier string   `json:"resourceIdentifier"`
	AwayFrom           string   `json:"awayFrom"`
	ExpiresIn          string   `json:"expiresIn"`
	Comment            string   `json:"comment"`
	Type               string   `json:"type"`
	FailbackWeight     *float64 `json:"failbackWeight,omitempty"`
}

type updateRequest struct {
	ExpiresIn      string   `json:"expiresIn,omitempty"`
	FailbackWeight *float64 `json:"failbackWeight,omitempty"`
}

// apiError is an error answer of the API: {"__type", "message"}, or whatever a proxy sent.
type apiError struct {
	Op      string
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, e.Type, e.Message)
	}
	return fmt.Sprintf("%s: %d: %s", e.Op, e.Status, e.Message)
}

// apiClient speaks the zonal shift API.
type apiClient struct {
	http *http.Client
	base string // endpoint without a trailing slash
}

func (c *apiClient) listActive(ctx context.Context, resource string) ([]zonalShift, error) {
	q := url.Values{"status": {statusActive}, "resourceIdentifier": {resource}}
	var out struct {
		Items []zonalShift `json:"items"`
	}
	if err := c.do(ctx, "list zonal shifts", http.MethodGet, "/zonalshifts?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

func (c *apiClient) start(ctx context.Context, req startRequest) (zonalShift, error) {
	var z zonalShift
	err := c.do(ctx, "start zonal shift", http.MethodPost, "/zonalshifts", req, &z)
	return z, err
}

func (c *apiClient) update(ctx context.Context, id string, req updateRequest) (zonalShift, error) {
	var z zonalShift
	err := c.do(ctx, "update zonal shift", http.MethodPatch, "/zonalshifts/"+url.PathEscape(id), req, &z)
	return z, err
}

func (c *apiClient) cancel(ctx context.Context, id string) error {
	return c.do(ctx, "cancel zonal shift", http.MethodDelete, "/zonalshifts/"+url.PathEscape(id), nil, nil)
}

func (c *apiClient) do(ctx context.Context, op, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return consumererror.NewPermanent(fmt.Errorf("%s: encode request: %w", op, err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return consumererror.NewPermanent(fmt.Errorf("%s: %w", op, err))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err) // network errors are retryable
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return classify(op, resp, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		// A 2xx the exporter cannot read is not going to read better on a retry.
		return consumererror.NewPermanent(fmt.Errorf("%s: decode response: %w", op, err))
	}
	return nil
}

// classify turns an error answer into a retryable or permanent error. 404 and 409 are
// retryable: they mean the state changed between the read and the write of this push, and the
// retried push reads it again. 429 and 503 honour Retry-After.
func classify(op string, resp *http.Response, body []byte) error {
	e := decodeAPIError(op, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return exporterhelper.NewThrottleRetry(e, retryAfter(resp.Header.Get("Retry-After")))
	case code >= 500, code == http.StatusNotFound, code == http.StatusConflict, code == http.StatusRequestTimeout:
		return e
	}
	return consumererror.NewPermanent(e)
}

// decodeAPIError reads {"__type","message"}; anything else (a proxy's HTML page) becomes the
// message, cut short.
func decodeAPIError(op string, status int, typeHeader string, body []byte) *apiError {
	e := &apiError{Op: op, Status: status}
	var wire struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &wire) == nil && (wire.Type != "" || wire.Message != "") {
		e.Type, e.Message = wire.Type, wire.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	if e.Type == "" {
		// ARC puts the type in a header too, sometimes as "Type:reason".
		e.Type, _, _ = strings.Cut(typeHeader, ":")
	}
	// A type may come as "namespace#Type".
	if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
		e.Type = e.Type[i+1:]
	}
	const maxMessage = 256
	if len(e.Message) > maxMessage {
		e.Message = strings.ToValidUTF8(e.Message[:maxMessage], "") + "…"
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// retryAfter is the server's Retry-After, or zero to let the retry
// policy's backoff decide.
func retryAfter(v string) time.Duration {
	d, _ := retryafter.Parse(v, time.Now())
	return d
}

func isAPIError(err error, status int) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == status
}
