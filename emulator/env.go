package emulator

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Placeholder credentials: Lambda always sets these; the emulator never passes the host's own.
const (
	localAccessKeyID     = "AKIAAZLENSEMULATOR00"
	localSecretAccessKey = "azlens-emulator-local-secret-access-key"
	localSessionToken    = "azlens-emulator-local-session-token"
)

// reservedEnv are names customers may not set (docs/lambda-apis.md, "Runtime API"): the ones Lambda sets itself.
var reservedEnv = map[string]bool{
	"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
	"AWS_DEFAULT_REGION": true, "AWS_REGION": true, "AWS_EXECUTION_ENV": true,
	"AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_VERSION": true,
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_LAMBDA_LOG_FORMAT": true, "AWS_LAMBDA_RUNTIME_API": true,
	"AWS_LAMBDA_METADATA_API": true, "AWS_LAMBDA_METADATA_TOKEN": true,
	"AWS_XRAY_CONTEXT_MISSING": true, "AWS_XRAY_DAEMON_ADDRESS": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, "AWS_SAM_LOCAL": true,
	"TZ": true,
}

// maxCustomerEnvBytes is Lambda's 4 KB limit on customer variables (names plus values).
const maxCustomerEnvBytes = 4096

func validateCustomerEnv(env map[string]string) error {
	total := 0
	for k, v := range env {
		if k == "" {
			return fmt.Errorf("function.env: empty variable name")
		}
		if k[0] == '_' {
			return fmt.Errorf("function.env: %q: names may not start with \"_\"", k)
		}
		if reservedEnv[k] {
			return fmt.Errorf("function.env: %q is reserved", k)
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
				return fmt.Errorf("function.env: %q: names are letters, digits and \"_\", not starting with a digit", k)
			}
		}
		total += len(k) + len(v)
	}
	if total > maxCustomerEnvBytes {
		return fmt.Errorf("function.env: %d bytes exceeds the 4 KB limit", total)
	}
	return nil
}

// baseEnv is what both the runtime and extensions get: platform, credentials, customer variables.
func (s *Sandbox) baseEnv() []string {
	f := &s.fn
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + s.addr,
		"AWS_REGION=" + s.region,
		"AWS_DEFAULT_REGION=" + s.region,
		"AWS_LAMBDA_FUNCTION_NAME=" + f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + f.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_INITIALIZATION_TYPE=" + initializationType,
		"AWS_LAMBDA_LOG_FORMAT=" + f.LogFormat,
		"AWS_LAMBDA_METADATA_API=" + s.addr,
		"AWS_LAMBDA_METADATA_TOKEN=" + s.token,
		"AWS_ACCESS_KEY_ID=" + localAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + localSecretAccessKey,
		"AWS_SESSION_TOKEN=" + localSessionToken,
		// Real extensions (the OTel collector's, aws-samples') bind their Telemetry listener to
		// sandbox.localdomain unless this is set; see README.
		"AWS_SAM_LOCAL=true",
		"TMPDIR=" + s.tmpDir,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		// As on provided.al2023; optView is /opt, or where the layers are unpacked when the
		// environment has no mount namespace to show them there.
		"PATH=/usr/local/bin:/usr/bin/:/bin:" + s.opt("bin"),
		"LD_LIBRARY_PATH=/lib64:/usr/lib64:" + s.opt("lib"),
	}
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+f.Env[k])
	}
	return append(env, s.otlpEnv()...)
}

// runtimeEnv adds what only the runtime sees (docs/lambda-apis.md, "Runtime API").
func (s *Sandbox) runtimeEnv(path string) []string {
	dir := filepath.Dir(path)
	return append(s.baseEnv(),
		"_HANDLER="+s.fn.Handler,
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_LOG_GROUP_NAME="+s.logGroup(),
		"AWS_LAMBDA_LOG_STREAM_NAME="+s.logStream,
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
		"AWS_XRAY_DAEMON_ADDRESS=169.254.79.129:2000",
		"_AWS_XRAY_DAEMON_ADDRESS=169.254.79.129",
		"_AWS_XRAY_DAEMON_PORT=2000",
		"LAMBDA_TASK_ROOT="+dir,
		"LAMBDA_RUNTIME_DIR="+dir,
	)
}

// extensionEnv is the base environment: extensions get nothing starting with "_", no handler, no
// log group or stream, no X-Ray variables, no task root (docs/lambda-apis.md, "Runtime API").
func (s *Sandbox) extensionEnv() []string { return s.baseEnv() }

func (s *Sandbox) opt(sub string) string {
	if s.optView == "" {
		return "/opt/" + sub
	}
	return filepath.Join(s.optView, sub)
}

func (s *Sandbox) logGroup() string { return "/aws/lambda/" + s.fn.Name }

// envValue finds name in an environment list.
func envValue(env []string, name string) (string, bool) {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
