// Package hostile sends every HTTP surface of azlens not covered in its own package the inputs it
// meets when someone means harm or a client goes wrong (internal/hostiletest): the emulator's
// front door (Lambda's Invoke API, and ARC zonal shift and FIS routed beside it as `azlens up`
// does), the Runtime, Extensions and Telemetry APIs of an execution environment, and the agent's
// OTLP endpoint. Each case gets its documented 4xx naming the problem within a bounded time (and,
// for bodies that must not be read or inflated, a bounded allocation), and the surface still
// serves a valid request afterwards. The receiver and the agent's Telemetry listener have their
// tables in their own packages.
package hostile

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/experiment"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/emulator/regiontest"
	"github.com/azlens/azlens/emulator/zonalshift"
	"github.com/azlens/azlens/internal/hostiletest"
)

// frontDoor serves a one-zone region of an in-process function named "hostile" behind the front
// door, with ARC zonal shift and FIS routed at their root paths as `azlens up` routes them, on
// the server FrontDoor.Server makes. It returns the address.
func frontDoor(t *testing.T) string {
	t.Helper()
	handler := func(_ context.Context, ev map[string]any) (map[string]any, error) { return ev, nil }
	reg := regiontest.Start(t, region.Config{
		Zones:       []string{"use1-az1"},
		EnvsPerZone: 1,
		Function:    emulator.Function{Name: "hostile", Runtime: &emulator.InProcessRuntime{Handler: handler}},
	})
	shifts := zonalshift.New(zonalshift.Config{})
	shifts.SetZones("hostile", []string{"use1-az1", "use1-az2"})
	experiments := experiment.New(experiment.Config{Zones: []string{"use1-az1"}})
	fd := region.NewFrontDoor(nil, reg)
	fd.Route(shifts.Handler(), zonalshift.Paths...)
	fd.Route(experiments.Handler(), experiment.Paths...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := fd.Server()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-served
		_ = fd.Wait(ctx)
		if err := reg.Shutdown(ctx); err != nil {
			t.Errorf("region shutdown: %v", err)
		}
		shifts.Close()
		experiments.Close()
	})
	return ln.Addr().String()
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

func with(kv ...string) map[string]string {
	m := map[string]string{"Content-Type": "application/json"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Allocation bounds: a refused body may be read up to the surface's limit (io.ReadAll grows its
// buffer, so about twice the limit), never inflated.
const (
	smallAlloc = 8 << 20
	bomb       = 64 << 20 // what the bombs inflate to
)

// The bombs, made once: compressing 64 MiB takes seconds under the race detector.
var (
	gzipBomb      = sync.OnceValue(func() []byte { return hostiletest.GzipBomb(bomb) })
	zstdBomb      = sync.OnceValue(func() []byte { return hostiletest.ZstdBomb(bomb) })
	smallGzipBomb = sync.OnceValue(func() []byte { return hostiletest.GzipBomb(16 << 20) })
)

// TestInvokeAPI: Lambda's Invoke API refuses what Lambda refuses, in Lambda's error shape, and
// never inflates a compressed body (Lambda takes none).
func TestInvokeAPI(t *testing.T) {
	addr := frontDoor(t)
	const path = "/2015-03-31/functions/hostile/invocations"
	cases := []hostiletest.Case{
		{Name: "oversized payload", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: bytes.Repeat([]byte(" "), 6<<20+1), Status: http.StatusRequestEntityTooLarge,
			Message: "Request must be smaller than 6291456 bytes", MaxAlloc: 32 << 20},
		{Name: "wrong method", Method: http.MethodGet, Path: path,
			Status: http.StatusMethodNotAllowed, Message: "Method Not Allowed", Want: map[string]string{"Allow": "POST"}},
		// Lambda ignores Content-Type: a payload is JSON or refused as not JSON.
		{Name: "wrong content type", Method: http.MethodPost, Path: path, Header: map[string]string{"Content-Type": "text/plain"},
			Body: []byte("hello"), Status: http.StatusBadRequest, Message: "Could not parse request body into json"},
		{Name: "truncated json", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: []byte(`{"name":"x`), Status: http.StatusBadRequest, Message: "Could not parse request body into json"},
		{Name: "gzip bomb", Method: http.MethodPost, Path: path, Header: with("Content-Encoding", "gzip"),
			Body: gzipBomb(), Status: http.StatusBadRequest, Message: "Could not parse request body into json", MaxAlloc: smallAlloc},
		{Name: "zstd bomb", Method: http.MethodPost, Path: path, Header: with("Content-Encoding", "zstd"),
			Body: zstdBomb(), Status: http.StatusBadRequest, Message: "Could not parse request body into json", MaxAlloc: smallAlloc},
		{Name: "deep json", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: hostiletest.DeepJSON(100_000), Status: http.StatusBadRequest, Message: "Could not parse request body into json", MaxAlloc: smallAlloc},
		{Name: "bad invocation type", Method: http.MethodPost, Path: path, Header: with("X-Amz-Invocation-Type", "Sometimes"),
			Body: []byte(`{}`), Status: http.StatusBadRequest, Message: "X-Amz-Invocation-Type"},
		{Name: "bad client context", Method: http.MethodPost, Path: path, Header: with("X-Amz-Client-Context", "%%%"),
			Body: []byte(`{}`), Status: http.StatusBadRequest, Message: "X-Amz-Client-Context"},
		{Name: "unknown function", Method: http.MethodPost, Path: "/2015-03-31/functions/nobody/invocations", Header: jsonCT,
			Body: []byte(`{}`), Status: http.StatusNotFound, Message: "Function not found"},
		{Name: "client dies mid-body", Method: http.MethodPost, Path: path, Header: jsonCT, Body: []byte(`{"name":`), Abort: true},
	}
	ok := hostiletest.Case{Method: http.MethodPost, Path: path, Header: jsonCT, Body: []byte(`{"name":"after"}`), Status: http.StatusOK}
	hostiletest.Run(t, "http://"+addr, cases, ok)
}

// awsCases are the hostile requests of an AWS REST-JSON API (zonal shift, FIS) at path, which
// takes POST (allow is the path's Allow header) and bodies of at most limit bytes.
func awsCases(path, allow string, limit int) []hostiletest.Case {
	return []hostiletest.Case{
		{Name: "oversized body", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: bytes.Repeat([]byte(" "), limit+1), Status: http.StatusBadRequest, Message: "request body must be at most", MaxAlloc: smallAlloc},
		{Name: "wrong method", Method: http.MethodPut, Path: path, Header: jsonCT, Body: []byte(`{}`),
			Status: http.StatusMethodNotAllowed, Message: "method PUT is not allowed on " + path, Want: map[string]string{"Allow": allow}},
		// AWS's REST-JSON services read the body as JSON whatever the Content-Type says.
		{Name: "wrong content type", Method: http.MethodPost, Path: path, Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			Body: []byte("a=b"), Status: http.StatusBadRequest, Message: "request body is not valid JSON"},
		{Name: "truncated json", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: []byte(`{"comment":"x`), Status: http.StatusBadRequest, Message: "request body is not valid JSON: it ends too early"},
		// No compression is accepted: the bomb is refused as what it is, never inflated (16 MiB
		// inflated, so that its compressed bytes fit the limit and reach the JSON decoder).
		{Name: "gzip bomb", Method: http.MethodPost, Path: path, Header: with("Content-Encoding", "gzip"),
			Body: smallGzipBomb(), Status: http.StatusBadRequest, Message: "request body is not valid JSON", MaxAlloc: smallAlloc},
		{Name: "deep json", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: []byte(`{"comment":` + string(hostiletest.DeepJSON(limit/2-20)) + `}`), Status: http.StatusBadRequest,
			Message: "request body is not valid JSON", MaxAlloc: smallAlloc},
		{Name: "unknown field", Method: http.MethodPost, Path: path, Header: jsonCT,
			Body: []byte(`{"no_such_field":1}`), Status: http.StatusBadRequest, Message: `unknown field \"no_such_field`},
		{Name: "client dies mid-body", Method: http.MethodPost, Path: path, Header: jsonCT, Body: []byte(`{"comment":`), Abort: true},
	}
}

// TestZonalShiftAPI: ARC's StartZonalShift path, routed at the front door's root.
func TestZonalShiftAPI(t *testing.T) {
	addr := frontDoor(t)
	ok := hostiletest.Case{Method: http.MethodPost, Path: "/zonalshifts", Header: jsonCT,
		Body: []byte(`{"resourceIdentifier":"hostile","awayFrom":"use1-az1","expiresIn":"5m","comment":"after"}`), Status: http.StatusOK}
	hostiletest.Run(t, "http://"+addr, awsCases("/zonalshifts", "GET, POST", 64<<10), ok)
}

// TestFISAPI: FIS's CreateExperimentTemplate path, routed at the front door's root.
func TestFISAPI(t *testing.T) {
	addr := frontDoor(t)
	ok := hostiletest.Case{Method: http.MethodGet, Path: "/experimentTemplates", Status: http.StatusOK}
	hostiletest.Run(t, "http://"+addr, awsCases("/experimentTemplates", "GET, POST", 256<<10), ok)
}
