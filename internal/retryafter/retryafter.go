// Package retryafter reads the Retry-After header every HTTP client of
// azlens honours (the agent's forwarder, the Loki and zonal shift
// exporters), so a server's answer means the same to all of them.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max caps a Retry-After a server or proxy may get wrong: a client told to
// wait a day would hold its data as good as lost.
const Max = 5 * time.Minute

// Parse reads a Retry-After value, delay-seconds or an HTTP-date (RFC 9110
// section 10.2.3), as a positive delay no longer than Max; an HTTP-date is
// measured from now. ok is false when there is no usable value: absent,
// malformed, zero or in the past.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(Max/time.Second) {
			return Max, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, Max), true
}
