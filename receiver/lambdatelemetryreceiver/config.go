package lambdatelemetryreceiver

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
)

// Config of the lambdatelemetry receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint (default localhost:4319),
	// tls, auth, max_request_body_size (zero means confighttp's 20 MiB), …
	confighttp.ServerConfig `mapstructure:",squash"`

	// ResourceAttributes is the resource of events posted to /v1/telemetry,
	// which carry none of their own (a collector running inside the
	// execution environment). Empty means an empty resource. Agent batches
	// bring their own resource and ignore it.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`

	// CorrelationTimeout is how long a partial invocation (start, runtimeDone
	// and report not all seen) or an init/restore phase waiting for its first
	// invocation is held before it is emitted with azlens.incomplete=true.
	// The report of an invocation usually arrives during the next one, so
	// this should exceed the gap between invocations. Must be positive.
	CorrelationTimeout time.Duration `mapstructure:"correlation_timeout"`

	// MaxPendingInvocations bounds the correlation table; when full, the
	// oldest partial invocation is emitted incomplete. Must be positive.
	MaxPendingInvocations int `mapstructure:"max_pending_invocations"`

	// MaxEnvironments bounds the execution environments whose cumulative
	// metrics are kept; when full, the least recently seen is forgotten.
	// Must be positive.
	MaxEnvironments int `mapstructure:"max_environments"`

	// EnvironmentIdleTimeout forgets an environment (its series end) after
	// this long without a batch. Zero means never (only max_environments
	// bounds them).
	EnvironmentIdleTimeout time.Duration `mapstructure:"environment_idle_timeout"`

	// InsecureAllowUnauthenticated lets the receiver listen on an address other than loopback
	// without an authenticator (`auth:`). False (the default) refuses to start that way: batches
	// carry functions' logs, and an open ingestion endpoint lets anyone write metrics that move
	// zonal shifts. Set it only behind something that authenticates for you.
	InsecureAllowUnauthenticated bool `mapstructure:"insecure_allow_unauthenticated"`

	// Storage names a storage extension (file_storage) in which the receiver records, per
	// execution environment, the agent batches (seq and body digest) it applied and the pipeline
	// accepted, after the pipeline accepted each and before answering 200; Start loads them. A
	// batch applied before a restart and retried after it (the collector SIGKILLed between
	// exporting it and answering) is then answered 200 as a duplicate instead of being counted
	// twice in the cumulative metrics. Each record also holds the environment's metric state
	// after the batch, which a restarted collector continues the environment's series from, so a
	// batch exported but not yet recorded when the collector was killed, applied again by its
	// successor, still counts once. It keeps what the in-memory window keeps (the newest 64
	// batches of an environment) and forgets environments with it (environment_idle_timeout,
	// max_environments). Unset (the default): the window is in memory only, and a restart starts
	// new series.
	StorageID *component.ID `mapstructure:"storage"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// loopbackEndpoint reports whether a listen address only accepts connections from this host:
// localhost or a loopback IP. An empty host (":4319") and 0.0.0.0 listen everywhere.
func loopbackEndpoint(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = endpoint
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate checks the receiver configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	} else if !cfg.Auth.HasValue() && !cfg.InsecureAllowUnauthenticated && !loopbackEndpoint(cfg.NetAddr.Endpoint) {
		errs = append(errs, fmt.Errorf("endpoint %q is not loopback and no auth is configured: add auth (e.g. bearertokenauth) or set insecure_allow_unauthenticated: true", cfg.NetAddr.Endpoint))
	}
	if cfg.CorrelationTimeout <= 0 {
		errs = append(errs, errors.New("correlation_timeout must be positive"))
	}
	if cfg.MaxPendingInvocations <= 0 {
		errs = append(errs, errors.New("max_pending_invocations must be positive"))
	}
	if cfg.MaxEnvironments <= 0 {
		errs = append(errs, errors.New("max_environments must be positive"))
	}
	if cfg.EnvironmentIdleTimeout < 0 {
		errs = append(errs, errors.New("environment_idle_timeout must not be negative"))
	} else if cfg.EnvironmentIdleTimeout > 0 && cfg.EnvironmentIdleTimeout < cfg.CorrelationTimeout {
		errs = append(errs, errors.New("environment_idle_timeout must be zero or at least correlation_timeout"))
	}
	return errors.Join(errs...)
}
