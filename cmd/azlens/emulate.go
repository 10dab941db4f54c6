package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/groundtruth"
)

// emulateConfig is what `azlens emulate` is told by its flags.
type emulateConfig struct {
	function    string
	extensions  listFlag
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
}

func emulateFlags(stderr io.Writer) (*flag.FlagSet, *emulateConfig) {
	c := &emulateConfig{env: envFlag{}}
	fs := flag.NewFlagSet("azlens emulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.function, "function", "", "path of the function's runtime executable (an aws-lambda-go `bootstrap`); required")
	fs.Var(&c.extensions, "extension", "path of an external extension executable; repeatable")
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

func (c *emulateConfig) validate() error {
	if c.function == "" {
		return errors.New("--function is required")
	}
	if c.memoryMB < 128 || c.memoryMB > 10240 {
		return fmt.Errorf("--memory-mb must be between 128 and 10240, got %d", c.memoryMB)
	}
	if c.timeout <= 0 || c.timeout > 15*time.Minute {
		return fmt.Errorf("--timeout must be between 1ms and 15m, got %s", c.timeout)
	}
	if c.envsPerAZ < 1 {
		return fmt.Errorf("--envs-per-az must be at least 1, got %d", c.envsPerAZ)
	}
	if len(splitZones(c.azs)) == 0 {
		return errors.New("--azs must name at least one zone")
	}
	if c.logFormat != "Text" && c.logFormat != "JSON" {
		return fmt.Errorf("--log-format must be Text or JSON, got %q", c.logFormat)
	}
	if c.sampleRate < 0 || c.sampleRate > 1 {
		return fmt.Errorf("--trace-sample-rate must be between 0 and 1, got %g", c.sampleRate)
	}
	return nil
}

// regionConfig turns the flags into the emulator's configuration.
func (c *emulateConfig) regionConfig(stderr io.Writer, log *slog.Logger) emulator.RegionConfig {
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
	}
	for _, p := range c.extensions {
		fn.Extensions = append(fn.Extensions, &emulator.ProcessExtension{Path: p})
	}
	sb := emulator.SandboxConfig{Freeze: c.freeze, TraceSampleRate: c.sampleRate, Logger: log}
	if !c.quiet {
		sb.LogOutput = stderr
	}
	return emulator.RegionConfig{
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
	// The emulator's ground truth (invocations by outcome, throttles, cold starts, resets) on the
	// front door's GET /metrics.
	var truth *groundtruth.Metrics
	rc := c.regionConfig(stderr, log)
	rc.Observe = func(o emulator.Outcome) { truth.Observe(o) }
	region, err := emulator.NewRegion(rc)
	if err != nil {
		return err
	}
	truth = groundtruth.New(groundtruth.Config{Function: region.FunctionName(), Zones: region.Zones()})
	fd := emulator.NewFrontDoor(log, region)
	fd.Handle("GET /metrics", truth.Handler())
	srv, err := serveFrontDoor(c.listen, fd)
	if err != nil {
		_ = region.Shutdown(context.Background())
		return err
	}
	if err := region.Start(ctx); err != nil {
		shutdownAll(region, srv, c.shutdownMax)
		return err
	}
	fmt.Fprintf(stdout, "azlens emulate: function %q in %s (%d environment(s) per zone)\n",
		region.FunctionName(), c.azs, c.envsPerAZ)
	fmt.Fprintf(stdout, "Invoke API listening on http://%s  (aws lambda invoke --endpoint-url http://%s --function-name %s out.json)\n",
		srv.addr, srv.addr, region.FunctionName())
	for _, sb := range region.Environments() {
		fmt.Fprintf(stdout, "  environment %s: AWS_LAMBDA_RUNTIME_API=%s\n", sb.ID(), sb.APIAddr())
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "azlens emulate: shutting down (SHUTDOWN spindown)")
	return shutdownAll(region, srv, c.shutdownMax)
}

// frontDoorServer is the running Invoke API.
type frontDoorServer struct {
	addr string
	srv  *http.Server
	fd   *emulator.FrontDoor
	done chan error
}

func serveFrontDoor(addr string, fd *emulator.FrontDoor) (*frontDoorServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &frontDoorServer{
		addr: ln.Addr().String(),
		srv:  &http.Server{Handler: fd, ReadHeaderTimeout: 10 * time.Second},
		fd:   fd,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// shutdownAll stops taking requests, lets in-flight ones finish, then shuts every environment
// down (SHUTDOWN spindown, budgets honoured).
func shutdownAll(region *emulator.Region, s *frontDoorServer, max time.Duration) error {
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
	if err := region.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
