// Package testdeadline bounds a test's waits so a hang fails with its own message rather than
// the test binary's -timeout panic, which names no cause.
package testdeadline

import (
	"testing"
	"time"
)

// margin is left between the bound and the test binary's deadline for cleanups and the message.
const margin = 30 * time.Second

// Within returns limit, shortened to end margin before t's deadline (go test -timeout) when
// that comes first; never less than a second.
func Within(t testing.TB, limit time.Duration) time.Duration {
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := tt.Deadline(); ok {
			limit = min(limit, max(time.Until(dl)-margin, time.Second))
		}
	}
	return limit
}
