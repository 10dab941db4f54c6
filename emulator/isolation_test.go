package emulator

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator/emulatortest"
	"github.com/azlens/azlens/internal/freeport"
)

var (
	thirdPartyOnce sync.Once
	thirdPartyBin  string
	thirdPartyErr  error
)

// thirdPartyExtension links the third-party look-alike extension (testdata/thirdparty) under name.
func thirdPartyExtension(t *testing.T, name string, args ...string) *ProcessExtension {
	t.Helper()
	thirdPartyOnce.Do(func() {
		thirdPartyBin, thirdPartyErr = emulatortest.BuildThirdPartyExtension(testDir, "thirdparty")
	})
	if thirdPartyErr != nil {
		t.Fatal(thirdPartyErr)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(thirdPartyBin, path); err != nil {
		t.Fatal(err)
	}
	return &ProcessExtension{Path: path, Args: args}
}

// thirdPartyRecords reads what the look-alike extensions of one environment wrote: per process,
// the request ids of the INVOKEs it got and of the platform.reports each listener received.
type extSeen struct {
	exe     string
	invokes []string
	reports map[string][]string // by listener
}

func readThirdParty(t *testing.T, dir string) []extSeen {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []extSeen
	for _, f := range files {
		seen := extSeen{reports: map[string][]string{}}
		for _, r := range readRecords(t, f) {
			id, _ := r["requestId"].(string)
			seen.exe, _ = r["exe"].(string)
			switch r["kind"] {
			case "invoke":
				seen.invokes = append(seen.invokes, id)
			case "report":
				l, _ := r["listener"].(string)
				seen.reports[l] = append(seen.reports[l], id)
			}
		}
		out = append(out, seen)
	}
	return out
}

// checkReports fails unless every listener got a report for exactly the invocations its own
// environment ran: nothing missing, nothing from another environment.
func checkReports(t *testing.T, env string, seen []extSeen, invoked []string, listeners ...string) {
	t.Helper()
	want := slices.Sorted(slices.Values(invoked))
	var got []string
	for _, s := range seen {
		got = append(got, filepath.Base(s.exe))
		if ids := slices.Sorted(slices.Values(s.invokes)); !slices.Equal(ids, want) {
			t.Errorf("%s: %s got INVOKEs %v, want %v", env, s.exe, ids, want)
		}
		for l, ids := range s.reports {
			if ids := slices.Sorted(slices.Values(ids)); !slices.Equal(ids, want) {
				t.Errorf("%s: %s listener %s got reports for %v, want %v", env, s.exe, l, ids, want)
			}
		}
	}
	var names []string
	for _, s := range seen {
		for l := range s.reports {
			names = append(names, l)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, listeners) {
		t.Errorf("%s: listeners that received reports %v, want %v (extensions %v)", env, names, listeners, got)
	}
}

// thirdPartyEnv is one execution environment running both look-alike extensions.
func thirdPartyEnv(t *testing.T, az string, network Network, log *slog.Logger, samplesArgs, otelArgs []string) (*Sandbox, string) {
	t.Helper()
	rec := t.TempDir()
	fn := processFunction(map[string]string{"THIRDPARTY_RECORD": rec},
		thirdPartyExtension(t, "samples-telemetry", append([]string{"-mode", "samples"}, samplesArgs...)...),
		thirdPartyExtension(t, "otel-collector", append([]string{"-mode", "otel"}, otelArgs...)...))
	s, err := NewSandbox(SandboxConfig{Function: fn, AZ: az, Network: network, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func invokeAll(t *testing.T, s *Sandbox, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		res := invoke(t, s, fmt.Sprintf(`{"mode":"echo","message":"m%d"}`, i))
		if res.Status != "success" || res.FunctionError != "" {
			t.Fatalf("%s invoke %d: status %s %s %s", s.AZ(), i, res.Status, res.ErrorType, res.Payload)
		}
		ids = append(ids, res.RequestID)
	}
	return ids
}

// Both third-party behaviours, each environment with the same fixed ports (4323, 4317/4318,
// 53612, 4325) in three zones at once: every invocation succeeds and every report reaches the
// extension of the environment that ran it.
func TestThirdPartyExtensionsIsolatedThreeZones(t *testing.T) {
	thirdPartyThreeZones(t, nil)
}

// thirdPartyThreeZones runs the test above; running, when set, looks at the environments after
// their first invocations.
func thirdPartyThreeZones(t *testing.T, running func([]*Sandbox)) {
	t.Helper()
	type env struct {
		s   *Sandbox
		rec string
	}
	var envs []env
	for _, az := range []string{"use1-az1", "use1-az2", "use1-az3"} {
		s, rec := thirdPartyEnv(t, az, NetworkIsolated, nil, nil, nil)
		envs = append(envs, env{s, rec})
	}
	for _, e := range envs {
		if err := e.s.Start(context.Background()); err != nil {
			t.Fatalf("%s: Start: %v", e.s.AZ(), err)
		}
		if got := e.s.APIAddr(); got != "127.0.0.1:9001" {
			t.Errorf("%s: AWS_LAMBDA_RUNTIME_API %s, want Lambda's 127.0.0.1:9001", e.s.AZ(), got)
		}
	}
	invoked := make([][]string, len(envs))
	for round := range 3 { // interleaved, so every environment is busy while the others are
		for i, e := range envs {
			invoked[i] = append(invoked[i], invokeAll(t, e.s, 2)...)
		}
		if round == 0 && running != nil {
			var all []*Sandbox
			for _, e := range envs {
				all = append(all, e.s)
			}
			running(all)
		}
	}
	for i, e := range envs {
		shutdown(t, e.s, ShutdownSpindown)
		sum := e.s.Summary()
		if sum.Invocations != 6 || len(sum.Resets) != 0 {
			t.Errorf("%s: summary %s", e.s.AZ(), sum)
		}
		checkReports(t, e.s.AZ(), readThirdParty(t, e.rec), invoked[i], "lifecycle", "receiver", "samples")
	}
}

// On the shared loopback (one environment, free ports) the same extensions run unchanged too:
// the empty-host destination and the two subscriptions do not depend on namespaces.
func TestThirdPartyExtensionsShared(t *testing.T) {
	ports := freeport.Ports(t, 3)
	s, rec := thirdPartyEnv(t, "use1-az1", NetworkShared, nil,
		[]string{"-port", itoa(ports[0])},
		[]string{"-port", itoa(ports[1]), "-lifecycle-port", itoa(ports[2]), "-otlp", ""})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := invokeAll(t, s, 5)
	shutdown(t, s, ShutdownSpindown)
	checkReports(t, "shared", readThirdParty(t, rec), ids, "lifecycle", "receiver", "samples")
}

// Two environments on one loopback with a fixed-port extension: the second one's subscription
// to the port the first receives on is refused and logged at WARN naming extension and port; the
// first environment gets only its own reports.
func TestSharedLoopbackPortCollision(t *testing.T) {
	port := freeport.Ports(t, 1)[0]
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mk := func() (*Sandbox, string) {
		rec := t.TempDir()
		fn := processFunction(map[string]string{"THIRDPARTY_RECORD": rec},
			thirdPartyExtension(t, "samples-telemetry", "-mode", "samples", "-port", itoa(port)))
		s, err := NewSandbox(SandboxConfig{Function: fn, Network: NetworkShared, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background(), ShutdownSpindown) })
		return s, rec
	}
	first, firstRec := mk()
	second, _ := mk()
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := second.Start(context.Background())
	if _, ok := err.(*InitError); !ok {
		t.Fatalf("second environment's Start = %v, want an init error (its extension panics on the refused subscription)", err)
	}
	out := logBuf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "port="+itoa(port)) || !strings.Contains(out, "extension=samples-telemetry") {
		t.Errorf("no WARN naming the extension and port:\n%s", out)
	}
	ids := invokeAll(t, first, 3)
	shutdown(t, first, ShutdownSpindown)
	shutdown(t, second, ShutdownSpindown)
	checkReports(t, "first", readThirdParty(t, firstRec), ids, "samples")
}

// A layer's extensions run from /opt/extensions inside the environment's mount namespace, and
// the runtime's PATH and LD_LIBRARY_PATH name /opt as on Lambda.
func TestLayerExtensionsRunFromOpt(t *testing.T) {
	t.Run("thread", layerExtensionsRunFromOpt)
	t.Run("userns", func(t *testing.T) {
		useHolders(t)
		layerExtensionsRunFromOpt(t)
	})
}

func layerExtensionsRunFromOpt(t *testing.T) {
	thirdPartyExtension(t, "unused") // builds the binary
	bin, err := os.ReadFile(thirdPartyBin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := writeZip(t, dir, "first.zip", map[string]zipEntry{
		"extensions/samples-telemetry": {data: bin, mode: 0o755},
		"lib/libold.so":                {data: []byte("old"), mode: 0o644},
	})
	second := writeZip(t, dir, "second.zip", map[string]zipEntry{
		"lib/libold.so": {data: []byte("new"), mode: 0o644},
	})
	rec := t.TempDir()
	fn := processFunction(map[string]string{"THIRDPARTY_RECORD": rec})
	fn.Layers = []string{first, second}
	s, log, err := startSandbox(t, SandboxConfig{Function: fn, Network: NetworkIsolated})
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, s, `{"mode":"env"}`)
	var env []string
	mustJSON(t, res.Payload, &env)
	path, _ := envValue(env, "PATH")
	ldPath, _ := envValue(env, "LD_LIBRARY_PATH")
	if !strings.HasSuffix(path, ":/opt/bin") || !strings.HasSuffix(ldPath, ":/opt/lib") {
		t.Errorf("PATH %q, LD_LIBRARY_PATH %q: want /opt/bin and /opt/lib last", path, ldPath)
	}
	if b, err := os.ReadFile(filepath.Join(s.optDir, "lib", "libold.so")); err != nil || string(b) != "new" {
		t.Errorf("a later layer's file must replace the earlier one's: %q %v", b, err)
	}
	exts := log.find("platform.extension")
	if len(exts) != 1 || exts[0].Record["name"] != "samples-telemetry" {
		t.Errorf("platform.extension events %v, want the layer's samples-telemetry", exts)
	}
	shutdown(t, s, ShutdownSpindown)
	seen := readThirdParty(t, rec)
	if len(seen) != 1 || seen[0].exe != "/opt/extensions/samples-telemetry" {
		t.Errorf("extension ran as %v, want /opt/extensions/samples-telemetry", seen)
	}
	if _, err := os.Stat(s.optDir); !os.IsNotExist(err) {
		t.Errorf("unpacked /opt left behind after Shutdown: %v", err)
	}
}

type zipEntry struct {
	data []byte
	mode os.FileMode
}

func writeZip(t *testing.T, dir, name string, entries map[string]zipEntry) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for k := range entries {
			if !yield(k) {
				return
			}
		}
	}) {
		e := entries[n]
		h := &zip.FileHeader{Name: n, Method: zip.Store}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// An extension that never comes back to /event/next after the runtime is done forces a timeout;
// the WARN names it and how long it held, once per environment, and the summary counts the reset.
func TestHoldingExtensionWarnsOnce(t *testing.T) {
	var logBuf syncBuffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ext, _ := testExtension(t, "holder", "-invoke-delay", "1h")
	fn := processFunction(nil, ext)
	fn.Timeout = 300 * time.Millisecond
	s, _, err := startSandbox(t, SandboxConfig{Function: fn, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		// The runtime answers (the caller gets 200); the extension's hold then times the
		// invocation out and resets the environment before Done.
		if res := invoke(t, s, `{"mode":"echo","message":"x"}`); res.Status != "success" {
			t.Fatalf("invoke: %s %s", res.Status, res.ErrorType)
		}
	}
	out := logBuf.String()
	if n := strings.Count(out, "did not return to /event/next"); n != 1 {
		t.Errorf("%d WARN lines about the holding extension, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "extension=holder") || !strings.Contains(out, "held_after_runtime=") {
		t.Errorf("WARN does not name the extension and the hold:\n%s", out)
	}
	sum := s.Summary()
	if sum.Invocations != 2 || sum.Resets["Sandbox.Timeout"] != 2 {
		t.Errorf("summary %s, want 2 invocations and 2 Sandbox.Timeout resets", sum)
	}
	if !strings.Contains(sum.String(), "2 invocations, 2 resets (Sandbox.Timeout 2)") {
		t.Errorf("summary line %q", sum.String())
	}
}

// repoRoot is the module root, two levels above this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// `make layer`'s zip, built by the same script, runs as shipped: the agent starts from
// /opt/extensions in an isolated environment and reaches a collector on the host's loopback
// through a forwarded port.
func TestAgentLayerAsShipped(t *testing.T) {
	root := repoRoot(t)
	dist := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "extension-agent", "build-layer.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DIST="+dist, "ARCHS="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-layer.sh: %v\n%s", err, out)
	}
	layer := filepath.Join(dist, "azlens-agent-layer-"+runtime.GOARCH+".zip")
	t.Run("thread", func(t *testing.T) { agentLayerAsShipped(t, layer) })
	// Through a holder the forward's listener is made in the user namespace and the agent's
	// connections to it are accepted here.
	t.Run("userns", func(t *testing.T) {
		useHolders(t)
		agentLayerAsShipped(t, layer)
	})
}

func agentLayerAsShipped(t *testing.T, layer string) {
	var posts atomic.Int64
	sink := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		posts.Add(1)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go sink.Serve(ln)
	defer sink.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	fn := processFunction(map[string]string{
		"AZLENS_COLLECTOR_ENDPOINT":    "http://127.0.0.1:" + itoa(port),
		"AZLENS_COLLECTOR_COMPRESSION": "none",
	})
	fn.Layers = []string{layer}
	s, log, err := startSandbox(t, SandboxConfig{Function: fn, Network: NetworkIsolated, HostPorts: []int{port}})
	if err != nil {
		t.Fatal(err)
	}
	exts := log.find("platform.extension")
	if len(exts) != 1 || exts[0].Record["name"] != "azlens-agent" {
		t.Fatalf("platform.extension events %v, want azlens-agent from the layer", exts)
	}
	invokeAll(t, s, 3)
	shutdown(t, s, ShutdownSpindown)
	if posts.Load() == 0 {
		t.Fatal("the agent posted nothing to the collector on the host's loopback")
	}
	if sum := s.Summary(); len(sum.Resets) != 0 {
		t.Errorf("summary %s", sum)
	}
}
