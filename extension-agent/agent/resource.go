package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// environment is what the agent knows about its execution environment; it becomes the "resource"
// object of every batch.
type environment struct {
	region, account, az string
	function, version   string
	instance            string
	memoryMB            int
	serviceName         string
	extra               map[string]string // OTEL_RESOURCE_ATTRIBUTES
}

func newEnvironment(getenv func(string) string, functionName, functionVersion, account string) environment {
	e := environment{
		region:   getenv("AWS_REGION"),
		account:  account,
		function: firstNonEmpty(getenv("AWS_LAMBDA_FUNCTION_NAME"), functionName),
		version:  firstNonEmpty(getenv("AWS_LAMBDA_FUNCTION_VERSION"), functionVersion),
		instance: randomID(),
		extra:    parseResourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES")),
	}
	e.memoryMB, _ = strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	e.serviceName = firstNonEmpty(getenv("OTEL_SERVICE_NAME"), e.extra["service.name"], e.function)
	return e
}

// resource renders the resource attributes. The platform's own attributes win over
// OTEL_RESOURCE_ATTRIBUTES, so a customer variable cannot misplace data in another zone; only
// service.name is the customer's to choose (OTEL_SERVICE_NAME first).
func (e environment) resource() []byte {
	m := make(map[string]any, len(e.extra)+11)
	for k, v := range e.extra {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		} else {
			delete(m, k)
		}
	}
	m["cloud.provider"] = "aws"
	m["cloud.platform"] = "aws_lambda"
	set("cloud.region", e.region)
	set("cloud.account.id", e.account)
	set("cloud.availability_zone", e.az)
	set("faas.name", e.function)
	set("faas.version", e.version)
	set("faas.instance", e.instance)
	if e.memoryMB > 0 {
		m["faas.max_memory"] = int64(e.memoryMB) << 20
	} else {
		delete(m, "faas.max_memory")
	}
	set("service.name", e.serviceName)
	b, _ := json.Marshal(m) // strings and an int64: cannot fail
	return b
}

// parseResourceAttributes reads OTEL_RESOURCE_ATTRIBUTES: comma-separated key=value pairs with
// percent-encoded values (OpenTelemetry SDK spec); malformed pairs are skipped.
func parseResourceAttributes(s string) map[string]string {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if dv, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			out[k] = dv
		}
	}
	return out
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
