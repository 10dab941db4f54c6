package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/groundtruth"
	"github.com/azlens/azlens/emulator/region"
	"github.com/azlens/azlens/internal/loop"
)

// emulateConfig is what `azlens emulate` is told by its flags.
type emulateConfig struct {
	function    string
	extensions  listFlag
	layers      listFlag
	network     string
	hostPorts   listFlag
	name        string
	handler     string
	memoryMB    int
	timeout     time.Duration
	azs         string
	envsPerAZ   int
	listen      string
	env         envFlag
	freeze      bool
	logFormat   string
	sampleRate  float64
	quiet       bool
	shutdownMax time.Duration
	// envPorts are the loopback ports --env values name (envHostPorts), probed at start.
	envPorts []envHostPort
}

func emulateFlags(stderr io.Writer) (*flag.FlagSet, *emulateConfig) {
	c := &emulateConfig{env: envFlag{}}
	fs := flag.NewFlagSet("azlens emulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.function, "function", "", "path of the function's runtime executable (an aws-lambda-go `bootstrap`); required")
	fs.Var(&c.extensions, "extension", "path of an external extension executable; repeatable")
	fs.Var(&c.layers, "layer", "path of a layer .zip, unpacked in order into each environment's /opt; its extensions/* run as external extensions; repeatable")
	fs.StringVar(&c.network, "network", "auto", "environment network: isolated (a network and mount namespace each, needs Linux and root, or unprivileged user namespaces and nsenter), shared (the host's loopback), or auto (isolated where possible)")
	fs.Var(&c.hostPorts, "host-port", "TCP port of the host's loopback that isolated environments reach at 127.0.0.1:PORT (e.g. a collector's); repeatable")
	fs.StringVar(&c.name, "name", "", "function name (default: the --function file's base name)")
	fs.StringVar(&c.handler, "handler", "bootstrap", "handler (_HANDLER)")
	fs.IntVar(&c.memoryMB, "memory-mb", 128, "memory size in MB")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Second, "invocation timeout")
	fs.StringVar(&c.azs, "azs", "use1-az1,use1-az2,use1-az3", "comma-separated availability zone IDs")
	fs.IntVar(&c.envsPerAZ, "envs-per-az", 1, "execution environments pre-provisioned per zone")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9001", "address of the Invoke API (front door)")
	fs.Var(c.env, "env", "customer environment variable KEY=VALUE; repeatable")
	fs.BoolVar(&c.freeze, "freeze", false, "freeze (SIGSTOP) environments between invocations, as Lambda does")
	fs.StringVar(&c.logFormat, "log-format", "Text", "function log format: Text or JSON")
	fs.Float64Var(&c.sampleRate, "trace-sample-rate", 0.05, "fraction of untraced invocations given a sampled X-Ray header")
	fs.BoolVar(&c.quiet, "quiet", false, "do not copy function and extension output to stderr")
	fs.DurationVar(&c.shutdownMax, "shutdown-timeout", 10*time.Second, "upper bound on shutting every environment down")
	return fs, c
}

// validate checks every flag before anything starts, and resolves the path flags against the
// working directory.
func (c *emulateConfig) validate() error {
	if c.function == "" {
		return usagef("--function is required: the path of the function's bootstrap executable")
	}
	var err error
	if c.function, err = executablePath("function", c.function); err != nil {
		return err
	}
	for i, p := range c.extensions {
		if c.extensions[i], err = executablePath("extension", p); err != nil {
			return err
		}
	}
	if c.memoryMB < 128 || c.memoryMB > 10240 {
		return usagef("--memory-mb must be between 128 and 10240, got %d", c.memoryMB)
	}
	if c.timeout < time.Millisecond || c.timeout > 15*time.Minute {
		return usagef("--timeout must be between 1ms and 15m, got %s", c.timeout)
	}
	if c.envsPerAZ < 1 {
		return usagef("--envs-per-az must be at least 1, got %d", c.envsPerAZ)
	}
	if _, err := zoneList("azs", c.azs, 1); err != nil {
		return err
	}
	if err := listenAddr("listen", c.listen); err != nil {
		return err
	}
	if err := oneOf("log-format", c.logFormat, []string{"Text", "JSON"}); err != nil {
		return err
	}
	if c.sampleRate < 0 || c.sampleRate > 1 {
		return usagef("--trace-sample-rate must be between 0 and 1, got %g", c.sampleRate)
	}
	if c.handler == "" {
		return usagef("--handler must not be empty")
	}
	if c.name != "" && !functionName.MatchString(c.name) {
		return usagef("--name %q: a Lambda function name is 1 to 64 letters, digits, '-' and '_'", c.name)
	}
	if _, err := networkMode(c.network); err != nil {
		return err
	}
	if _, err := ports(c.hostPorts); err != nil {
		return err
	}
	for i, p := range c.layers {
		if c.layers[i], err = layerPath(p); err != nil {
			return err
		}
	}
	return positive("shutdown-timeout", c.shutdownMax)
}

func networkMode(v string) (emulator.Network, error) {
	switch v {
	case "auto":
		return emulator.NetworkAuto, nil
	case "isolated":
		return emulator.NetworkIsolated, nil
	case "shared":
		return emulator.NetworkShared, nil
	}
	return 0, usagef("--network must be auto, isolated or shared, got %q", v)
}

func ports(list []string) ([]int, error) {
	out := make([]int, 0, len(list))
	for _, p := range list {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, usagef("--host-port must be a TCP port (1-65535), got %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// layerPath makes a --layer path absolute and checks it is a readable file.
func layerPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usagef("--layer %q: %v", p, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", usagef("--layer %q: %v", p, err)
	}
	if info.IsDir() {
		return "", usagef("--layer %q is a directory, not a layer .zip", p)
	}
	return abs, nil
}

// envHostPort is a port of the loopback that a --env value names, and whether a host process
// listened there when azlens emulate started.
type envHostPort struct {
	key       string
	port      int
	listening bool
}

// envHostPorts finds the loopback ports the function's environment variables point at —
// `--env AZLENS_COLLECTOR_ENDPOINT=http://127.0.0.1:4319` is the README's own example. Those a
// host process listens on at start are forwarded into isolated environments, as --host-port
// would, so that an environment whose 127.0.0.1 is its own still reaches them as it would on the
// shared loopback: without this, running as root (isolation on by default) would silently cut the
// agent off from its collector. A port nothing listens on is left to the environment (it may be
// an extension's own, e.g. an OTLP endpoint at localhost:4318), and said at start. Port 9001 is
// never taken: inside an environment it is the Runtime API.
func envHostPorts(env map[string]string) []envHostPort {
	var out []envHostPort
	for _, k := range slices.Sorted(maps.Keys(env)) {
		hostport := env[k]
		if i := strings.Index(hostport, "://"); i >= 0 {
			u, err := url.Parse(hostport)
			if err != nil {
				continue
			}
			hostport = u.Host
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil || (host != "127.0.0.1" && host != "localhost") {
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || n == 9001 {
			continue
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), time.Second)
		if err == nil {
			conn.Close()
		}
		out = append(out, envHostPort{key: k, port: n, listening: err == nil})
	}
	return out
}

// configFlags maps the emulator's configuration field names to the flags that set them.
var configFlags = strings.NewReplacer("function.env:", "--env:", "function.memory_mb:", "--memory-mb:",
	"function.timeout:", "--timeout:", "function.log_format:", "--log-format:", "function.extensions:", "--extension:",
	"function.runtime:", "--function:")

func configAsUsage(err error) error { return usagef("%s", configFlags.Replace(err.Error())) }

// functionName is Lambda's rule for a function's name.
var functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// regionConfig turns the flags into the emulator's configuration.
func (c *emulateConfig) regionConfig(stderr io.Writer, log *slog.Logger) region.Config {
	name := c.name
	if name == "" {
		name = filepath.Base(c.function)
	}
	fn := emulator.Function{
		Name:      name,
		Handler:   c.handler,
		MemoryMB:  c.memoryMB,
		Timeout:   c.timeout,
		Env:       map[string]string(c.env),
		LogFormat: c.logFormat,
		Runtime:   &emulator.ProcessRuntime{Path: c.function},
		Layers:    c.layers,
	}
	for _, p := range c.extensions {
		fn.Extensions = append(fn.Extensions, &emulator.ProcessExtension{Path: p})
	}
	network, _ := networkMode(c.network) // validated
	hostPorts, _ := ports(c.hostPorts)
	for _, r := range c.envPorts {
		if r.listening && !slices.Contains(hostPorts, r.port) {
			hostPorts = append(hostPorts, r.port)
		}
	}
	sb := emulator.SandboxConfig{Freeze: c.freeze, TraceSampleRate: c.sampleRate, Logger: log, Network: network, HostPorts: hostPorts}
	if !c.quiet {
		sb.LogOutput = stderr
	}
	return region.Config{
		Zones:       splitZones(c.azs),
		EnvsPerZone: c.envsPerAZ,
		Function:    fn,
		Sandbox:     sb,
		Logger:      log,
	}
}

func runEmulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := emulateFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.envPorts = envHostPorts(c.env)
	rc := c.regionConfig(stderr, log)
	// ARC zonal shift and FIS, wired as `azlens up` wires them: shifts of the function's ARN
	// weight the router, experiments inject faults into the environments.
	cp := loop.NewControlPlane(loop.ControlPlaneConfig{Function: rc.Function.Name, Zones: rc.Zones,
		InvocationTimeout: c.timeout, Logger: log})
	defer cp.Close()
	cp.Wire(&rc)
	// The emulator's ground truth (invocations by outcome, throttles, cold starts, resets, the
	// router's weights, the applied shift, the injected faults) on the front door's GET /metrics.
	truth := groundtruth.New(cp.GroundTruth())
	rc.Observe = truth.Observe
	reg, err := region.New(rc)
	if err != nil {
		// region.New only checks the configuration, which is the flags: a usage error, named as a flag.
		return configAsUsage(err)
	}
	fd := region.NewFrontDoor(log, reg)
	cp.Serve(fd)
	fd.Handle("GET /metrics", truth.Handler())
	srv, err := serveFrontDoor(c.listen, fd)
	if err != nil {
		_ = reg.Shutdown(context.Background())
		return err
	}
	if err := reg.Start(ctx); err != nil {
		shutdownAll(reg, srv, c.shutdownMax)
		return err
	}
	fmt.Fprintf(stdout, "azlens emulate: function %q in %s (%d environment(s) per zone)\n",
		reg.FunctionName(), c.azs, c.envsPerAZ)
	fmt.Fprintf(stdout, "Invoke API listening on http://%s  (aws lambda invoke --endpoint-url http://%s --function-name %s out.json)\n",
		srv.addr, srv.addr, reg.FunctionName())
	fmt.Fprintf(stdout, "ARC zonal shift and FIS on the same endpoint; the function's ARC resource is %s\n"+
		"  (aws arc-zonal-shift start-zonal-shift --endpoint-url http://%s --resource-identifier %s --away-from %s --expires-in 30m --comment drill)\n",
		cp.Resource(), srv.addr, cp.Resource(), reg.Zones()[0])
	for _, r := range c.envPorts {
		if r.listening {
			fmt.Fprintf(stdout, "  --env %s names 127.0.0.1:%d, where a host process listens: isolated environments reach it there too\n", r.key, r.port)
		} else {
			fmt.Fprintf(stdout, "  --env %s names 127.0.0.1:%d, where nothing on the host listened at start: an isolated environment reaches a host process there only with --host-port %d\n", r.key, r.port, r.port)
		}
	}
	for _, sb := range reg.Environments() {
		fmt.Fprintf(stdout, "  environment %s: AWS_LAMBDA_RUNTIME_API=%s\n", sb.ID(), sb.APIAddr())
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "azlens emulate: shutting down (SHUTDOWN spindown)")
	err = shutdownAll(reg, srv, c.shutdownMax)
	for _, sb := range reg.Environments() {
		fmt.Fprintln(stdout, "  "+sb.Summary().String())
	}
	return err
}

// frontDoorServer is the running Invoke API.
type frontDoorServer struct {
	addr string
	srv  *http.Server
	fd   *region.FrontDoor
	done chan error
}

func serveFrontDoor(addr string, fd *region.FrontDoor) (*frontDoorServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &frontDoorServer{
		addr: ln.Addr().String(),
		srv:  fd.Server(),
		fd:   fd,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// shutdownAll stops taking requests, lets in-flight ones finish, then shuts every environment
// down (SHUTDOWN spindown, budgets honoured).
func shutdownAll(reg *region.Region, s *frontDoorServer, max time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), max)
	defer cancel()
	var errs []error
	if s != nil {
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("front door: %w", err))
		}
		if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("front door: %w", err))
		}
		_ = s.fd.Wait(ctx)
	}
	if err := reg.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
