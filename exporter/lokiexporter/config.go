package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"sort"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config configures the Loki exporter.
type Config struct {
	// ClientConfig is the HTTP client: endpoint, tls, headers, auth, timeout
	// (per push attempt; zero means no limit). endpoint is the base URL the
	// push API is mounted under, which gets /loki/api/v1/push appended
	// (http://loki:3100, http://victorialogs:9428/insert), or the full push
	// URL, whose path ends in /push. compression must stay empty: the body is
	// already snappy-compressed, as Loki requires.
	confighttp.ClientConfig `mapstructure:",squash"`

	// QueueConfig is exporterhelper's sending queue, including its batch
	// section. Absent means each ConsumeLogs call is pushed synchronously.
	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// BackOffConfig retries pushes Loki answered with 429 or 5xx (and network
	// errors). enabled: false means a failed push is dropped at once.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// TenantID is sent as X-Scope-OrgID. Empty sends no header, which is what
	// a single-tenant Loki (auth_enabled: false) expects.
	TenantID string `mapstructure:"tenant_id"`

	// Labels chooses the stream labels.
	Labels LabelsConfig `mapstructure:"labels"`

	// StructuredMetadata chooses what travels with each entry as structured
	// metadata. Trace id and span id always do, when the record has them.
	StructuredMetadata StructuredMetadataConfig `mapstructure:"structured_metadata"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// LabelsConfig maps attributes to Loki stream labels. Every distinct label set
// is a Loki stream, so only low-cardinality attributes belong here.
type LabelsConfig struct {
	// ResourceAttributes maps a resource attribute key to a label name. An
	// empty label name removes a default mapping; a nil map keeps the defaults.
	ResourceAttributes map[string]string `mapstructure:"resource_attributes"`

	// LogAttributes maps a log record attribute key to a label name. Empty by
	// default.
	LogAttributes map[string]string `mapstructure:"log_attributes"`

	// Severity is the label name for the record's severity, reduced to one of
	// trace, debug, info, warn, error, fatal, unknown. Empty means no
	// severity label.
	Severity string `mapstructure:"severity"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// StructuredMetadataConfig chooses each entry's structured metadata.
type StructuredMetadataConfig struct {
	// Attributes maps an attribute key to a structured metadata name; the
	// record's attribute is used, else its resource's. An empty name removes a
	// default mapping.
	Attributes map[string]string `mapstructure:"attributes"`

	// AllLogAttributes also sends every other log record attribute (those not
	// used as a label), its name with characters other than [a-zA-Z0-9_]
	// replaced by "_", as Loki's own OTLP ingestion does. false sends only
	// Attributes, trace id and span id.
	AllLogAttributes bool `mapstructure:"all_log_attributes"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// highCardinality lists attributes that have (nearly) one value per
// execution environment, invocation, trace or span. As labels they would make
// one Loki stream each, which Loki rate-limits and indexes badly.
var highCardinality = map[string]string{
	"faas.instance":      "one value per execution environment",
	"faas.invocation_id": "one value per invocation",
	"trace_id":           "one value per trace",
	"trace.id":           "one value per trace",
	"traceid":            "one value per trace",
	"span_id":            "one value per span",
	"span.id":            "one value per span",
	"spanid":             "one value per span",
	"aws.request_id":     "one value per invocation",
	"faas_instance":      "one value per execution environment",
	"faas_invocation_id": "one value per invocation",
}

// maxTenantIDLength is Loki's limit on tenant ids.
const maxTenantIDLength = 150

// Validate checks the configuration; errors name the YAML key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must be set to the base URL of a Loki push API, e.g. http://loki:3100 or http://victorialogs:9428/insert"))
	} else if u, err := url.Parse(cfg.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("endpoint must be an http or https URL, got %q", cfg.Endpoint))
	}
	if cfg.Compression != "" && cfg.Compression != "none" {
		errs = append(errs, fmt.Errorf("compression must be empty, got %q: the push body is already snappy-compressed", cfg.Compression))
	}
	if err := validateTenantID(cfg.TenantID); err != nil {
		errs = append(errs, err)
	}

	seen := map[string]string{} // label name → the key that claimed it
	claim := func(key, name string) {
		if !validLabelName(name) {
			errs = append(errs, fmt.Errorf("%s: label name %q must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\"", key, name))
			return
		}
		if reason, bad := highCardinality[name]; bad {
			errs = append(errs, fmt.Errorf("%s: label name %q is high-cardinality (%s)", key, name, reason))
			return
		}
		if other, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("%s: label name %q is already used by %s", key, name, other))
			return
		}
		seen[name] = key
	}
	for _, section := range []struct {
		key string
		m   map[string]string
	}{
		{"labels::resource_attributes", cfg.Labels.ResourceAttributes},
		{"labels::log_attributes", cfg.Labels.LogAttributes},
	} {
		for _, attr := range sortedKeys(section.m) {
			name := section.m[attr]
			key := section.key + "::" + attr
			if name == "" {
				continue
			}
			if reason, bad := highCardinality[attr]; bad {
				errs = append(errs, fmt.Errorf("%s: %q is high-cardinality (%s) and cannot be a stream label; send it as structured metadata (structured_metadata::attributes)", key, attr, reason))
				continue
			}
			claim(key, name)
		}
	}
	if cfg.Labels.Severity != "" {
		claim("labels::severity", cfg.Labels.Severity)
	}

	for _, attr := range sortedKeys(cfg.StructuredMetadata.Attributes) {
		name := cfg.StructuredMetadata.Attributes[attr]
		if name != "" && !validLabelName(name) {
			errs = append(errs, fmt.Errorf("structured_metadata::attributes::%s: name %q must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\"", attr, name))
		}
	}
	return errors.Join(errs...)
}

// validLabelName reports whether name is a Loki label name (Prometheus rules;
// names starting with "__" are reserved for internal use).
func validLabelName(name string) bool {
	if name == "" || (len(name) >= 2 && name[0] == '_' && name[1] == '_') {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// validateTenantID applies Loki's tenant id rules, so a bad id fails at
// startup instead of as a 400 on every push.
func validateTenantID(id string) error {
	if len(id) > maxTenantIDLength {
		return fmt.Errorf("tenant_id must be at most %d characters, got %d", maxTenantIDLength, len(id))
	}
	if id == "." || id == ".." {
		return fmt.Errorf("tenant_id must not be %q", id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '-', c == '_', c == '.', c == '*', c == '\'', c == '(', c == ')':
		default:
			return fmt.Errorf("tenant_id %q has character %q; allowed are letters, digits and !-_.*'()", id, c)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
