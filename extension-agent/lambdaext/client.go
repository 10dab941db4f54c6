// Package lambdaext is a small client of the Lambda Extensions API (/2020-01-01), the Telemetry API
// (/2022-07-01) and the execution-environment metadata endpoint, as an external extension uses them.
package lambdaext

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Event types of /event/next.
const (
	Invoke   = "INVOKE"
	Shutdown = "SHUTDOWN"
)

// Client talks to the Extensions and Telemetry APIs at AWS_LAMBDA_RUNTIME_API.
type Client struct {
	base string
	name string
	id   string
	http *http.Client
}

// New returns a client for api (host:port) registering under name (the extension's file name).
func New(api, name string) *Client {
	return &Client{
		base: "http://" + api,
		name: name,
		// No overall timeout: /event/next blocks until the next event, which can take hours.
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4,
		}},
	}
}

// Registration is the /extension/register answer.
type Registration struct {
	FunctionName    string `json:"functionName"`
	FunctionVersion string `json:"functionVersion"`
	Handler         string `json:"handler"`
	AccountID       string `json:"accountId"`
}

// Event is one /event/next answer (INVOKE or SHUTDOWN).
type Event struct {
	EventType          string `json:"eventType"`
	DeadlineMs         int64  `json:"deadlineMs"`
	RequestID          string `json:"requestId"`
	InvokedFunctionArn string `json:"invokedFunctionArn"`
	ShutdownReason     string `json:"shutdownReason"`
}

// Deadline is the event's deadline as a time.
func (e *Event) Deadline() time.Time { return time.UnixMilli(e.DeadlineMs) }

// APIError is a non-success answer of a Lambda API.
type APIError struct {
	Op     string
	Status int
	Body   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.Op, e.Status, e.Body)
}

// Register registers for INVOKE and SHUTDOWN and asks for the account id.
func (c *Client) Register(ctx context.Context) (*Registration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/2020-01-01/extension/register",
		bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	req.Header.Set("Lambda-Extension-Name", c.name)
	req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	req.Header.Set("Content-Type", "application/json")
	resp, body, err := c.do(req, "register", http.StatusOK)
	if err != nil {
		return nil, err
	}
	c.id = resp.Header.Get("Lambda-Extension-Identifier")
	if c.id == "" {
		return nil, errors.New("register: answer lacks Lambda-Extension-Identifier")
	}
	var r Registration
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("register: decode answer: %w", err)
	}
	return &r, nil
}

// Next blocks until the next INVOKE or SHUTDOWN event.
func (c *Client) Next(ctx context.Context) (*Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/2020-01-01/extension/event/next", nil)
	if err != nil {
		return nil, fmt.Errorf("event next: %w", err)
	}
	req.Header.Set("Lambda-Extension-Identifier", c.id)
	_, body, err := c.do(req, "event next", http.StatusOK)
	if err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("event next: decode event: %w", err)
	}
	if e.EventType != Invoke && e.EventType != Shutdown {
		return nil, fmt.Errorf("event next: unknown eventType %q", e.EventType)
	}
	return &e, nil
}

// InitError reports a fatal init error; Lambda then fails the init with Extension.InitError.
func (c *Client) InitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "/2020-01-01/extension/init/error", "init error", errorType, cause)
}

// ExitError reports a fatal error after init, before the extension exits.
func (c *Client) ExitError(ctx context.Context, errorType string, cause error) error {
	return c.reportError(ctx, "/2020-01-01/extension/exit/error", "exit error", errorType, cause)
}

func (c *Client) reportError(ctx context.Context, path, op, errorType string, cause error) error {
	body, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": cause.Error()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Lambda-Extension-Identifier", c.id)
	req.Header.Set("Lambda-Extension-Function-Error-Type", errorType)
	req.Header.Set("Content-Type", "application/json")
	_, _, err = c.do(req, op, http.StatusAccepted)
	return err
}

// Subscription is a Telemetry API subscription request.
type Subscription struct {
	Types     []string
	MaxItems  int
	MaxBytes  int
	TimeoutMs int
	// URI is the listener's destination, http://sandbox.localdomain:<port>/<path>.
	URI string
}

// Subscribe subscribes to the Telemetry API with schema 2022-12-13.
func (c *Client) Subscribe(ctx context.Context, s Subscription) error {
	body, err := json.Marshal(map[string]any{
		"schemaVersion": "2022-12-13",
		"types":         s.Types,
		"buffering":     map[string]int{"maxItems": s.MaxItems, "maxBytes": s.MaxBytes, "timeoutMs": s.TimeoutMs},
		"destination":   map[string]string{"protocol": "HTTP", "URI": s.URI},
	})
	if err != nil {
		return fmt.Errorf("subscribe telemetry: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/2022-07-01/telemetry", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("subscribe telemetry: %w", err)
	}
	req.Header.Set("Lambda-Extension-Identifier", c.id)
	req.Header.Set("Content-Type", "application/json")
	_, _, err = c.do(req, "subscribe telemetry", http.StatusOK)
	return err
}

func (c *Client) do(req *http.Request, op string, want int) (*http.Response, []byte, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read answer: %w", op, err)
	}
	if resp.StatusCode != want {
		return nil, nil, &APIError{Op: op, Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	}
	return resp, body, nil
}

// CloseIdle releases idle connections.
func (c *Client) CloseIdle() { c.http.CloseIdleConnections() }

// AvailabilityZoneID reads the execution environment's AZ ID (e.g. "use1-az1") from the metadata
// endpoint at api (AWS_LAMBDA_METADATA_API, host:port) with token (AWS_LAMBDA_METADATA_TOKEN).
func AvailabilityZoneID(ctx context.Context, api, token string) (string, error) {
	if api == "" {
		return "", errors.New("read az id: AWS_LAMBDA_METADATA_API is not set")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+api+"/2026-01-15/metadata/execution-environment", nil)
	if err != nil {
		return "", fmt.Errorf("read az id: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("read az id: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read az id: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("read az id: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var m struct {
		AvailabilityZoneID string `json:"AvailabilityZoneID"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("read az id: decode answer: %w", err)
	}
	if m.AvailabilityZoneID == "" {
		return "", errors.New("read az id: answer lacks AvailabilityZoneID")
	}
	return m.AvailabilityZoneID, nil
}
