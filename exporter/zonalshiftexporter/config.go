package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Recovery actions (on_recovery).
const (
	// RecoveryCancel cancels the shift as soon as the zone is no longer kept out.
	RecoveryCancel = "cancel"
	// RecoveryExpire stops renewing and lets the lease lapse (at most lease later).
	RecoveryExpire = "expire"
)

// regionRE is the form of an AWS region name.
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// maxCommentTagLen leaves room in ARC's 128-character comment for the zone that follows the tag.
const maxCommentTagLen = 80

// Config configures the zonal shift exporter.
type Config struct {
	// ClientConfig is the HTTP client the AWS SDK sends through: endpoint, tls, proxy_url,
	// timeout (per request attempt; zero means no limit). endpoint chooses the API: empty (the
	// default) is real ARC in region; a URL is a local region's front door (e.g.
	// http://127.0.0.1:9001 for `azlens up`), under which ARC's /zonalshifts lives.
	confighttp.ClientConfig `mapstructure:",squash"`

	// Region is the AWS region of the ARC endpoint, e.g. us-east-1. Empty means the SDK's default
	// chain (AWS_REGION, the shared config's profile); with a local endpoint and no region
	// anywhere, requests are signed for us-east-1.
	Region string `mapstructure:"region"`

	// MaxAttempts is how many times the AWS SDK tries one API call (its standard retryer, with
	// backoff, for throttling, 5xx and network errors). Zero means the SDK's default (3).
	MaxAttempts int `mapstructure:"max_attempts"`

	// QueueConfig is exporterhelper's sending queue. Decisions must be enacted in order, so
	// num_consumers must be 1. Absent (enabled: false) means each push is enacted synchronously in
	// the pipeline.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// BackOffConfig retries API calls that failed with a network error, 429, 5xx, or a 404/409
	// caused by a concurrent change (every push re-reads the state first, so a retry is safe).
	// enabled: false drops a failed push; the next push (next detector tick) tries again.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// Lease is the expiresIn of the shifts this exporter starts and renews: whole minutes, at most
	// 72h (ARC's rule). Zero means 1m, as ARC's FIS integration uses.
	Lease time.Duration `mapstructure:"lease"`

	// RenewInterval is how often a held shift is renewed (at the first push after it elapsed). It
	// must be shorter than lease, with room for a push interval. Zero means half the lease.
	RenewInterval time.Duration `mapstructure:"renew_interval"`

	// OnRecovery is what happens to the shift when the zone may take traffic again: "cancel"
	// (ends it at once) or "expire" (stops renewing it). Empty means "cancel".
	OnRecovery string `mapstructure:"on_recovery"`

	// CommentTag starts the comment of every shift this exporter starts; with type "automatic"
	// it is how the exporter finds its own shift after a restart. Empty means "azlens-zonalshift".
	// Give collectors that must not adopt each other's shifts different tags.
	CommentTag string `mapstructure:"comment_tag"`

	// FailbackWeight passes the processor's fail-back stage (azlens.az.traffic_weight) to the
	// local region as the shift's failbackWeight (header X-Azlens-Failback-Weight), so the zone
	// gets 10 %, 25 %, 50 % of its traffic back before the shift ends (the default, true). Real ARC
	// has no such weights: set false there, and the zone stays fully shifted until its weight is
	// back to 1.
	FailbackWeight bool `mapstructure:"failback_weight"`

	// ResourceIdentifiers maps a function name (faas.name) to the resourceIdentifier ARC knows
	// its zonal tier by: on real ARC, the ARN of the ALB or NLB (or other ARC-managed resource)
	// that fronts it. A function not listed uses its name, which only a local region accepts.
	ResourceIdentifiers map[string]string `mapstructure:"resource_identifiers"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint != "" {
		if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint must be an http or https URL (a local region, e.g. http://127.0.0.1:9001) or empty (real ARC), got %q", cfg.Endpoint))
		}
	}
	if cfg.Region != "" && !regionRE.MatchString(cfg.Region) {
		errs = append(errs, fmt.Errorf("region must be an AWS region name such as us-east-1, got %q", cfg.Region))
	}
	if cfg.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max_attempts must be 0 (the SDK's default) or more, got %d", cfg.MaxAttempts))
	}
	if _, err := expiresIn(cfg.lease()); err != nil {
		errs = append(errs, err)
	}
	if cfg.RenewInterval < 0 || cfg.RenewInterval >= cfg.lease() {
		errs = append(errs, fmt.Errorf("renew_interval must be shorter than lease (%s), got %s", cfg.lease(), cfg.RenewInterval))
	}
	switch cfg.OnRecovery {
	case "", RecoveryCancel, RecoveryExpire:
	default:
		errs = append(errs, fmt.Errorf("on_recovery must be %q or %q, got %q", RecoveryCancel, RecoveryExpire, cfg.OnRecovery))
	}
	if len(cfg.CommentTag) > maxCommentTagLen {
		errs = append(errs, fmt.Errorf("comment_tag must be at most %d characters, got %d", maxCommentTagLen, len(cfg.CommentTag)))
	}
	for fn, id := range cfg.ResourceIdentifiers {
		if fn == "" || id == "" {
			errs = append(errs, fmt.Errorf("resource_identifiers: function name and identifier must not be empty (%q: %q)", fn, id))
		}
	}
	if q := cfg.QueueConfig.Get(); q != nil && q.NumConsumers != 1 {
		errs = append(errs, fmt.Errorf("sending_queue::num_consumers must be 1 so decisions are enacted in order, got %d", q.NumConsumers))
	}
	return errors.Join(errs...)
}

func (cfg *Config) lease() time.Duration {
	if cfg.Lease == 0 {
		return defaultLease
	}
	return cfg.Lease
}

func (cfg *Config) renewInterval() time.Duration {
	if cfg.RenewInterval == 0 {
		return cfg.lease() / 2
	}
	return cfg.RenewInterval
}

func (cfg *Config) commentTag() string {
	if cfg.CommentTag == "" {
		return defaultCommentTag
	}
	return cfg.CommentTag
}

func (cfg *Config) cancelOnRecovery() bool { return cfg.OnRecovery != RecoveryExpire }

func (cfg *Config) resourceIdentifier(function string) string {
	if id, ok := cfg.ResourceIdentifiers[function]; ok {
		return id
	}
	return function
}

// expiresIn renders a lease in ARC's expiresIn syntax: whole minutes up to 1440, whole hours up
// to 72.
func expiresIn(lease time.Duration) (string, error) {
	switch {
	case lease < time.Minute || lease%time.Minute != 0:
		return "", fmt.Errorf("lease must be a whole number of minutes, at least 1m, got %s", lease)
	case lease <= 1440*time.Minute:
		return fmt.Sprintf("%dm", lease/time.Minute), nil
	case lease%time.Hour == 0 && lease <= 72*time.Hour:
		return fmt.Sprintf("%dh", lease/time.Hour), nil
	}
	return "", fmt.Errorf("lease must be at most 1440m, or whole hours up to 72h, got %s", lease)
}
