package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/azlens/azlens/internal/retryafter"
)

const (
	// maxErrorBody is how much of an error response is kept for the error
	// message: Loki's are one line, a proxy's HTML page need not be quoted whole.
	maxErrorBody = 1024
	// maxDrainBody is how much of a response is read past that, so the
	// connection can be reused; anything longer costs a new connection.
	maxDrainBody = 64 << 10
)

// classifyResponse maps Loki's answer to what exporterhelper should do:
// nil for 2xx; a retryable error for 429 and 5xx, throttled by Retry-After
// when Loki sent one; a permanent error for anything else, since resending
// the same bad request (400: out of order, too old, line too long, ...) can
// only fail again.
func classifyResponse(status int, header http.Header, body []byte, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	err := fmt.Errorf("loki answered %d %s: %s", status, http.StatusText(status), errorText(body))
	if status == http.StatusTooManyRequests || (status >= 500 && status < 600) {
		if d, ok := retryafter.Parse(header.Get("Retry-After"), now); ok {
			return exporterhelper.NewThrottleRetry(err, d)
		}
		return err
	}
	return consumererror.NewPermanent(err)
}

// errorText makes a response body fit for an error message: valid UTF-8,
// printable, one line, bounded.
func errorText(body []byte) string {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "(empty body)"
	}
	return s
}
