package lokiexporter

import (
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/azlens/azlens/internal/retryafter"
)

func TestClassifyResponse(t *testing.T) {
	now := t0
	tests := []struct {
		status    int
		ok        bool
		permanent bool
	}{
		{200, true, false},
		{204, true, false},
		{299, true, false},
		{304, false, true},
		{400, false, true},
		{401, false, true},
		{404, false, true},
		{413, false, true},
		{429, false, false},
		{500, false, false},
		{502, false, false},
		{503, false, false},
		{599, false, false},
		{600, false, true},
	}
	for _, tt := range tests {
		err := classifyResponse(tt.status, http.Header{}, []byte("reason"), now)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%d: want nil, got %v", tt.status, err)
		case !tt.ok && err == nil:
			t.Errorf("%d: want an error", tt.status)
		case !tt.ok && consumererror.IsPermanent(err) != tt.permanent:
			t.Errorf("%d: permanent = %v, want %v (%v)", tt.status, consumererror.IsPermanent(err), tt.permanent, err)
		}
	}
}

func TestErrorText(t *testing.T) {
	if got := errorText(nil); got != "(empty body)" {
		t.Errorf("empty: %q", got)
	}
	if got := errorText([]byte("entry for stream '{a=\"b\"}' has timestamp too old\n")); got != `entry for stream '{a="b"}' has timestamp too old` {
		t.Errorf("loki line: %q", got)
	}
	if got := errorText([]byte("a\x00b\xffc\r\nd")); got != "a b\uFFFDc  d" {
		t.Errorf("control bytes: %q", got)
	}
	if got := errorText([]byte(strings.Repeat("x", 5000))); len(got) != maxErrorBody {
		t.Errorf("long body kept %d bytes, want %d", len(got), maxErrorBody)
	}
}

// FuzzClassifyResponse feeds arbitrary status codes, Retry-After values and
// bodies — all from the network — to the response mapping.
func FuzzClassifyResponse(f *testing.F) {
	f.Add(204, "", []byte(nil))
	f.Add(400, "", []byte("entry out of order"))
	f.Add(429, "2", []byte("rate limited"))
	f.Add(503, "Thu, 26 Nov 2026 12:00:30 GMT", []byte("<html>busy</html>"))
	f.Add(-1, "\xff", []byte{0xff, 0, '\n'})
	f.Fuzz(func(t *testing.T, status int, ra string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", ra)
		err := classifyResponse(status, h, body, t0)
		switch {
		case status >= 200 && status < 300:
			if err != nil {
				t.Fatalf("%d: %v", status, err)
			}
			return
		case err == nil:
			t.Fatalf("%d: no error", status)
		}
		retryable := status == 429 || (status >= 500 && status < 600)
		if consumererror.IsPermanent(err) == retryable {
			t.Fatalf("%d: permanent = %v", status, consumererror.IsPermanent(err))
		}
		msg := err.Error()
		if !utf8.ValidString(msg) {
			t.Fatalf("error message is not UTF-8: %q", msg)
		}
		for _, r := range msg {
			if !unicode.IsPrint(r) {
				t.Fatalf("error message has unprintable %q: %q", r, msg)
			}
		}
		if d, ok := retryafter.Parse(ra, t0); ok && (d <= 0 || d > retryafter.Max) {
			t.Fatalf("retryafter.Parse(%q) = %v out of (0, %v]", ra, d, retryafter.Max)
		}
	})
}

// FuzzEndpoint checks Validate and the push URL derivation agree and never
// panic on whatever endpoint a config holds.
func FuzzEndpoint(f *testing.F) {
	for _, s := range []string{"http://loki:3100", "https://loki/loki/api/v1/push", "http://vl:9428/insert", "http://gw/a%2Fb/", "loki:3100", "http://[::1", "http://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, endpoint string) {
		cfg := createDefaultConfig().(*Config)
		cfg.Endpoint = endpoint
		if err := cfg.Validate(); err != nil {
			return
		}
		u, err := pushURL(endpoint)
		if err != nil {
			t.Fatalf("valid endpoint %q: pushURL: %v", endpoint, err)
		}
		req, err := http.NewRequest(http.MethodPost, u, nil)
		if err != nil {
			t.Fatalf("valid endpoint %q gives push URL %q that cannot be requested: %v", endpoint, u, err)
		}
		if !strings.HasSuffix(req.URL.Path, "/push") {
			t.Fatalf("valid endpoint %q gives push URL %q whose path does not end in /push", endpoint, u)
		}
	})
}
