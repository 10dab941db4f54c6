// Package chromiumtest drives Debian's headless Chromium (installed by
// scripts/install-test-deps.sh) for the web console's browser tests: one fresh profile per test,
// every console error and uncaught exception collected, screenshots into the test's artifact
// directory (kept with `go test -artifacts -outputdir DIR`).
package chromiumtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium with one tab.
type Browser struct {
	Ctx context.Context
	t   testing.TB

	mu     sync.Mutex
	errors []string
}

// Start launches Chromium for t; it is closed when t ends. The test fails (it does not skip) when
// Chromium is not installed: run scripts/install-test-deps.sh.
func Start(t testing.TB, timeout time.Duration) *Browser {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (install it with scripts/install-test-deps.sh): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	b := &Browser{t: t}
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.Ctx = bctx
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	if _, err := chromedp.Call(bctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// listen runs on the tab's reader goroutine: it only records.
func (b *Browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			b.addError("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.addError(fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.addError(fmt.Sprintf("log (%s) %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text))
		}
	}
}

func (b *Browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// Errors returns the console errors and exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// ClearErrors forgets the errors seen so far (e.g. before loading another page).
func (b *Browser) ClearErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = nil
}

// NoErrors fails t if the page logged an error or threw.
func (b *Browser) NoErrors() {
	b.t.Helper()
	if errs := b.Errors(); len(errs) > 0 {
		b.t.Errorf("the page logged %d errors:\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
}

// Navigate loads url.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("navigate %s: %v", url, err)
	}
}

// WaitFor polls the JavaScript expression until it is truthy, failing t after limit.
func (b *Browser) WaitFor(what, expr string, limit time.Duration) {
	b.t.Helper()
	_, err := chromedp.Run(b.Ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(limit), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		errs := b.Errors()
		if len(errs) > 5 {
			errs = append(errs[:5], fmt.Sprintf("and %d more", len(errs)-5))
		}
		b.t.Fatalf("wait for %s (%s): %v (page errors so far: %v)", what, expr, err, errs)
	}
}

// Eval evaluates a JavaScript expression and decodes its value as T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v (page errors so far: %v)", expr, err, b.Errors())
	}
	return v
}

// Screenshot saves a full-page PNG as name in the test's artifact directory and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}
