package region

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/contract"
)

// Headers the front door adds to Lambda's Invoke API. Requests may carry ZoneHeader to pin an
// invocation to one zone (canaries); responses always carry both.
const (
	ZoneHeader        = contract.HeaderZone
	EnvironmentHeader = contract.HeaderEnvironment
)

// maxInvokePayload is Lambda's synchronous request payload limit.
const maxInvokePayload = 6 * 1024 * 1024

// FrontDoor serves Lambda's Invoke API (POST /2015-03-31/functions/{name}/invocations) for the
// functions of a region, so `aws lambda invoke --endpoint-url` and the AWS SDKs work against it.
// Other APIs (zonal shift, experiments) are mounted beside it with Mount.
type FrontDoor struct {
	mux       *http.ServeMux
	log       *slog.Logger
	mu        sync.RWMutex
	functions map[string]*Region
	async     sync.WaitGroup
	asyncCtx  context.Context
	stopAsync context.CancelFunc
}

// NewFrontDoor returns a front door for the given regions, one per function, keyed by function
// name.
func NewFrontDoor(log *slog.Logger, regions ...*Region) *FrontDoor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fd := &FrontDoor{
		mux:       http.NewServeMux(),
		log:       log,
		functions: make(map[string]*Region),
		asyncCtx:  ctx,
		stopAsync: cancel,
	}
	for _, r := range regions {
		fd.functions[r.FunctionName()] = r
	}
	fd.mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", fd.invoke)
	return fd
}

// Mount serves h under prefix (e.g. "/zonalshift"), with the prefix stripped.
func (fd *FrontDoor) Mount(prefix string, h http.Handler) {
	prefix = "/" + strings.Trim(prefix, "/")
	fd.mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
}

// Route serves h at root paths as they are, each path and everything below it: AWS APIs whose
// SDKs and CLI send requests to the endpoint's root (ARC's /zonalshifts, FIS's /experiments), so
// that only --endpoint-url or BaseEndpoint has to change.
func (fd *FrontDoor) Route(h http.Handler, paths ...string) {
	for _, p := range paths {
		p = "/" + strings.Trim(p, "/")
		fd.mux.Handle(p, h)
		fd.mux.Handle(p+"/", h)
	}
}

func (fd *FrontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) { fd.mux.ServeHTTP(w, r) }

// FrontDoorHeaderTimeout bounds how long the front door's server waits for a request's header, so
// a client trickling one byte by byte (slowloris) holds a connection that long at most.
const FrontDoorHeaderTimeout = 10 * time.Second

// Server returns the HTTP server to serve the front door with: its header read is bounded by
// FrontDoorHeaderTimeout.
func (fd *FrontDoor) Server() *http.Server {
	return &http.Server{Handler: fd, ReadHeaderTimeout: FrontDoorHeaderTimeout}
}

// Wait blocks until asynchronous (Event) invocations accepted so far have finished or ctx ends;
// then it cancels the ones still running.
func (fd *FrontDoor) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { fd.async.Wait(); close(done) }()
	select {
	case <-done:
		fd.stopAsync()
		return nil
	case <-ctx.Done():
		fd.stopAsync()
		<-done
		return ctx.Err()
	}
}

// invoke implements Lambda's Invoke action.
func (fd *FrontDoor) invoke(w http.ResponseWriter, r *http.Request) {
	name, qualifier := parseFunctionName(r.PathValue("name"))
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	fd.mu.RLock()
	region := fd.functions[name]
	fd.mu.RUnlock()
	if region == nil {
		writeLambdaError(w, http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", fd.anyRegionName(), "123456789012", name))
		return
	}
	if qualifier != "" && qualifier != region.FunctionVersion() && qualifier != "$LATEST" {
		writeLambdaError(w, http.StatusNotFound, "ResourceNotFoundException",
			fmt.Sprintf("Function not found: %s:%s", name, qualifier))
		return
	}

	invocationType := r.Header.Get("X-Amz-Invocation-Type")
	switch invocationType {
	case "", "RequestResponse", "Event", "DryRun":
	default:
		writeLambdaError(w, http.StatusBadRequest, "InvalidParameterValueException",
			fmt.Sprintf("X-Amz-Invocation-Type: unsupported value %q (want RequestResponse, Event or DryRun)", invocationType))
		return
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxInvokePayload+1))
	if err != nil {
		writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read request body: "+err.Error())
		return
	}
	if len(payload) > maxInvokePayload {
		writeLambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", maxInvokePayload))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	req := &emulator.InvokeRequest{Payload: payload, TraceHeader: r.Header.Get("X-Amzn-Trace-Id")}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		dec, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(dec) {
			writeLambdaError(w, http.StatusBadRequest, "InvalidRequestContentException",
				"X-Amz-Client-Context must be base64-encoded JSON")
			return
		}
		req.ClientContext = string(dec)
	}
	opts := InvokeOptions{Zone: r.Header.Get(ZoneHeader)}

	switch invocationType {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		fd.async.Go(func() {
			if _, err := region.Invoke(fd.asyncCtx, req, opts); err != nil {
				fd.log.Warn("asynchronous invocation failed", "function", name, "error", err)
			}
		})
		w.WriteHeader(http.StatusAccepted)
		return
	}

	inv, err := region.Invoke(r.Context(), req, opts)
	switch {
	case errors.Is(err, ErrTooManyRequests):
		w.Header().Set("Retry-After", "1")
		writeLambdaError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		return
	case errors.Is(err, ErrZoneUnavailable):
		writeLambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", ZoneHeader+": "+err.Error())
		return
	case err != nil:
		fd.log.Warn("invocation failed", "function", name, "error", err)
		writeLambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", region.FunctionVersion())
	h.Set("X-Amzn-RequestId", inv.RequestID)
	h.Set("X-Amzn-Trace-Id", inv.TraceHeader)
	h.Set(ZoneHeader, inv.Zone)
	h.Set(EnvironmentHeader, inv.Environment)
	if inv.FunctionError != "" {
		h.Set("X-Amz-Function-Error", inv.FunctionError)
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" {
		// The emulator streams logs through the Telemetry API, not CloudWatch; Tail gets an empty
		// (valid base64) log so SDKs that decode it keep working.
		h.Set("X-Amz-Log-Result", "")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload)
}

func (fd *FrontDoor) anyRegionName() string {
	fd.mu.RLock()
	defer fd.mu.RUnlock()
	for _, r := range fd.functions {
		return r.Name()
	}
	return DefaultName
}

// parseFunctionName accepts a name, "name:qualifier", a partial ARN
// ("123456789012:function:name[:qualifier]") or a full ARN.
func parseFunctionName(s string) (name, qualifier string) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn": // arn:aws:lambda:region:account:function:name[:qualifier]
		name = parts[6]
		if len(parts) > 7 {
			qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function": // account:function:name[:qualifier]
		name = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
	case len(parts) == 2:
		name, qualifier = parts[0], parts[1]
	default:
		name = s
	}
	return name, qualifier
}

// writeLambdaError answers the way Lambda's REST-JSON protocol does: the error code in
// x-amzn-ErrorType (what the AWS SDKs read) and a JSON body with Type and message.
func writeLambdaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	typ := "User"
	if status >= 500 {
		typ = "Service"
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": typ, "message": msg, "__type": code})
}
