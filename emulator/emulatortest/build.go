// Package emulatortest builds the emulator's real test binaries for other packages' tests: an
// aws-lambda-go function (emulator/testdata/function) and an external extension
// (emulator/testdata/extension). Build once per test binary (in TestMain or a sync.Once) — a build
// takes seconds. It also holds what the benchmarks of the emulator and of emulator/region share
// (bench.go): the echo handler and the direct-call reference they are measured against.
package emulatortest

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/azlens/azlens/internal/testbin"
)

// BuildFunction builds the test function into dir and returns the path of its "bootstrap".
//
// Its payload picks what an invocation does: {"mode":"echo","message":"hi"} answers
// {"echo":"hi"}; modes error, typed-error, panic, sleep (ms), exit (n), log (n lines), jsonlog,
// env, context, metadata, alloc (n MiB), big (n bytes). TESTFN_INIT=error|exit|hang|hang-once:<file>|wait-file:<file>
// steers init; TESTFN_SIGTERM=1|ignore registers aws-lambda-go's SIGTERM internal extension (exit or stay
// on SIGTERM).
func BuildFunction(dir string) (string, error) {
	return build("function", filepath.Join(dir, "bootstrap"))
}

// BuildTestExtension builds the test extension into dir under name (the extension's name is its
// file name). Flags: -record <file> (JSON lines of env, register, event, telemetry), -events,
// -subscribe platform,function,extension, -mode, -invoke-delay, -account, -name.
func BuildTestExtension(dir, name string) (string, error) {
	return build("extension", filepath.Join(dir, name))
}

// BuildThirdPartyExtension builds emulator/testdata/thirdparty into dir under name: an extension
// that behaves like aws-samples' go-example-telemetry-api-extension (-mode samples: fixed port
// 4323, destination "http://:4323/") or the OpenTelemetry Lambda collector (-mode otel: fixed
// OTLP ports, two subscriptions, a lifecycle listener waiting for platform.runtimeDone).
func BuildThirdPartyExtension(dir, name string) (string, error) {
	return build("thirdparty", filepath.Join(dir, name))
}

func build(what, out string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("build %s: cannot locate emulator sources", what)
	}
	src := filepath.Join(filepath.Dir(file), "..", "testdata", what)
	if err := testbin.Build("-o", out, src); err != nil {
		return "", fmt.Errorf("build %s: %w", what, err)
	}
	return out, nil
}
