// Package config reads and validates the azlens-agent's AZLENS_* environment variables. Every
// variable is documented (default and valid range) in extension-agent/README.md; a value outside
// its range is an error naming the variable, which the agent reports to Lambda as an init error.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Flush modes (AZLENS_FLUSH_MODE).
const (
	// FlushEnd waits at every invocation end for that invocation's runtimeDone and sends everything
	// buffered before returning to /event/next, so nothing waits in a frozen environment.
	FlushEnd = "end"
	// FlushPeriodic never waits for runtimeDone; it flushes at an invocation end only when the last
	// flush is older than FlushInterval, and in the background while the environment is thawed.
	FlushPeriodic = "periodic"
	// FlushAdaptive behaves as FlushEnd while the function is invoked less often than once per
	// FlushInterval, and as FlushPeriodic while it is busier.
	FlushAdaptive = "adaptive"
)

// DefaultOTLPEndpoint is where the OpenTelemetry SDK exports OTLP/HTTP by default
// (OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318), as to the OTel Lambda layer's collector.
const DefaultOTLPEndpoint = "127.0.0.1:4318"

// Config is the agent's whole configuration.
type Config struct {
	// CollectorEndpoint is the base URL of the collector's lambdatelemetry receiver; batches go to
	// CollectorEndpoint + "/v1/agent/batch". Empty disables forwarding: the agent then registers and
	// idles without subscribing, so a layer without configuration never breaks a function.
	CollectorEndpoint string
	// CollectorToken, when set, is sent as "Authorization: Bearer <token>".
	CollectorToken string
	// Gzip compresses request bodies.
	Gzip bool
	// CollectorTimeout bounds one HTTP request to the collector.
	CollectorTimeout time.Duration
	// CAFile is a PEM bundle trusted for https endpoints in addition to the system roots.
	CAFile string
	// InsecureSkipVerify disables TLS certificate verification (tests, private CAs).
	InsecureSkipVerify bool
	// Insecure allows a plain http:// endpoint on a host other than loopback. Off by default: the
	// batches carry the function's logs, and a bearer token would cross the network in clear.
	Insecure bool

	// TelemetryTypes are the Telemetry API event types subscribed to.
	TelemetryTypes []string
	// TelemetryMaxItems, TelemetryMaxBytes and TelemetryTimeout are the subscription's buffering.
	TelemetryMaxItems int
	TelemetryMaxBytes int
	TelemetryTimeout  time.Duration
	// ListenerPort is the listener's port; 0 picks a free one.
	ListenerPort int

	// MemoryLimitBytes bounds the events held in memory; beyond it the oldest batches go to the spool.
	MemoryLimitBytes int
	// SpoolDir holds batches that did not fit in memory or were left at shutdown.
	SpoolDir string
	// SpoolLimitBytes bounds the spool; beyond it the oldest spooled batches are dropped. 0 disables
	// the spool (memory overflow then drops the oldest batch).
	SpoolLimitBytes int64

	// BatchMaxEvents, BatchMaxBytes and BatchMaxAge seal a batch for sending, whichever comes first.
	BatchMaxEvents int
	BatchMaxBytes  int
	BatchMaxAge    time.Duration

	// FlushMode is FlushEnd, FlushPeriodic or FlushAdaptive.
	FlushMode string
	// FlushInterval is the longest time data waits in the agent while it is thawed in periodic mode,
	// and the busy threshold of adaptive mode.
	FlushInterval time.Duration
	// FlushTimeout caps the post-runtime hold at an invocation end, counted from when the runtime
	// finished (the runtimeDone event's time).
	FlushTimeout time.Duration

	// RetryInitial and RetryMax bound the exponential backoff between attempts.
	RetryInitial time.Duration
	RetryMax     time.Duration

	// OTLPEndpoint is the host:port of the OTLP/HTTP endpoint the function's OpenTelemetry SDK
	// exports to; empty when disabled (AZLENS_OTLP_ENDPOINT=none).
	OTLPEndpoint string
	// OTLPMaxBytes bounds one OTLP request, compressed and uncompressed (413 above).
	OTLPMaxBytes int

	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// Load reads the configuration through getenv (os.Getenv in production). It returns every invalid
// variable at once, each error naming its variable.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		CollectorEndpoint:  p.endpoint("AZLENS_COLLECTOR_ENDPOINT"),
		CollectorToken:     getenv("AZLENS_COLLECTOR_TOKEN"),
		Gzip:               p.oneOf("AZLENS_COLLECTOR_COMPRESSION", "gzip", "gzip", "none") == "gzip",
		CollectorTimeout:   p.millis("AZLENS_COLLECTOR_TIMEOUT_MS", 2000, 10, 60000),
		CAFile:             getenv("AZLENS_COLLECTOR_CA_FILE"),
		InsecureSkipVerify: p.boolean("AZLENS_COLLECTOR_INSECURE_SKIP_VERIFY", false),
		Insecure:           p.boolean("AZLENS_COLLECTOR_INSECURE", false),

		TelemetryTypes:    p.types("AZLENS_TELEMETRY_TYPES"),
		TelemetryMaxItems: p.integer("AZLENS_TELEMETRY_MAX_ITEMS", 1000, 1000, 10000),
		TelemetryMaxBytes: p.integer("AZLENS_TELEMETRY_MAX_BYTES", 262144, 262144, 1048576),
		TelemetryTimeout:  p.millis("AZLENS_TELEMETRY_TIMEOUT_MS", 25, 25, 30000),
		ListenerPort:      p.port("AZLENS_LISTENER_PORT"),

		MemoryLimitBytes: p.integer("AZLENS_MEMORY_LIMIT_BYTES", 4<<20, 256<<10, 1<<30),
		// os.TempDir is /tmp on Lambda (TMPDIR unset) and the environment's own /tmp in the
		// emulator, which sets TMPDIR per environment.
		SpoolDir:        p.str("AZLENS_SPOOL_DIR", filepath.Join(os.TempDir(), "azlens-spool")),
		SpoolLimitBytes: int64(p.integer("AZLENS_SPOOL_LIMIT_BYTES", 64<<20, 0, 8<<30)),

		BatchMaxEvents: p.integer("AZLENS_BATCH_MAX_EVENTS", 1000, 1, 100000),
		BatchMaxBytes:  p.integer("AZLENS_BATCH_MAX_BYTES", 1<<20, 1<<10, 16<<20),
		BatchMaxAge:    p.millis("AZLENS_BATCH_MAX_AGE_MS", 1000, 1, 600000),

		FlushMode:     p.oneOf("AZLENS_FLUSH_MODE", FlushAdaptive, FlushEnd, FlushPeriodic, FlushAdaptive),
		FlushInterval: p.millis("AZLENS_FLUSH_INTERVAL_MS", 1000, 10, 600000),
		FlushTimeout:  p.millis("AZLENS_FLUSH_TIMEOUT_MS", 500, 1, 60000),

		RetryInitial: p.millis("AZLENS_RETRY_INITIAL_MS", 100, 1, 60000),
		RetryMax:     p.millis("AZLENS_RETRY_MAX_MS", 5000, 1, 600000),

		OTLPEndpoint: p.hostPort("AZLENS_OTLP_ENDPOINT", DefaultOTLPEndpoint),
		OTLPMaxBytes: p.integer("AZLENS_OTLP_MAX_BYTES", 4<<20, 1<<10, 64<<20),

		LogLevel: p.oneOf("AZLENS_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
	}
	if c.RetryMax < c.RetryInitial && p.getenv("AZLENS_RETRY_MAX_MS") != "" {
		p.fail("AZLENS_RETRY_MAX_MS", "must be at least AZLENS_RETRY_INITIAL_MS")
	}
	if c.RetryMax < c.RetryInitial {
		c.RetryMax = c.RetryInitial
	}
	if c.CollectorEndpoint != "" && !c.Insecure && !secureEndpoint(c.CollectorEndpoint) {
		p.fail("AZLENS_COLLECTOR_ENDPOINT", "is plain http:// to a host that is not loopback (%s): use https:// or set AZLENS_COLLECTOR_INSECURE=true", c.CollectorEndpoint)
	}
	if c.SpoolLimitBytes > 0 && c.SpoolDir == "" {
		p.fail("AZLENS_SPOOL_DIR", "must not be empty while AZLENS_SPOOL_LIMIT_BYTES is not 0")
	}
	return c, errors.Join(p.errs...)
}

// SubscribesPlatform reports whether platform events (runtimeDone, report) are subscribed; without
// them the agent cannot tell when an invocation's data is complete and never waits for it.
func (c Config) SubscribesPlatform() bool {
	for _, t := range c.TelemetryTypes {
		if t == "platform" {
			return true
		}
	}
	return false
}

// secureEndpoint reports whether batches to endpoint stay private: https, or http to a loopback
// host (the collector beside the function, or the emulator's). sandbox.localdomain is the
// execution environment's own loopback on Lambda.
func secureEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	if u.Scheme == "https" {
		return true
	}
	switch host := strings.ToLower(u.Hostname()); host {
	case "localhost", "sandbox.localdomain", "sandbox":
		return true
	default:
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
}

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "must be an integer between %d and %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (p *parser) millis(name string, def, lo, hi int) time.Duration {
	return time.Duration(p.integer(name, def, lo, hi)) * time.Millisecond
}

func (p *parser) port(name string) int {
	n := p.integer(name, 0, 0, 65535)
	if n == 9001 || (n > 0 && n < 1024) {
		p.fail(name, "must be 0 or between 1024 and 65535 and not 9001 (reserved by Lambda), got %d", n)
		return 0
	}
	return n
}

func (p *parser) boolean(name string, def bool) bool {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(strings.TrimSpace(p.getenv(name)))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

func (p *parser) endpoint(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.fail(name, "must be an http:// or https:// URL without query, e.g. http://127.0.0.1:4319, got %q", v)
		return ""
	}
	return strings.TrimRight(v, "/")
}

// hostPort reads a listen address; "none" disables (empty result).
func (p *parser) hostPort(name, def string) string {
	v := strings.TrimSpace(p.getenv(name))
	switch {
	case v == "":
		return def
	case strings.EqualFold(v, "none"):
		return ""
	}
	host, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 || n == 9001 {
		p.fail(name, "must be host:port (port 1-65535, not 9001) or none, e.g. 127.0.0.1:4318, got %q", v)
		return def
	}
	return v
}

func (p *parser) types(name string) []string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return []string{"platform", "function", "extension"}
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range strings.Split(v, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch t {
		case "platform", "function", "extension":
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		default:
			p.fail(name, "must be a comma-separated list of platform, function, extension, got %q", v)
			return []string{"platform", "function", "extension"}
		}
	}
	return out
}
