package emulator

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/azlens/azlens/emulator/internal/telemetry"
)

// telemetryHub is what a sandbox needs from the Telemetry API hub (internal/telemetry): one per init
// cycle, fed with platform events and log lines, flushed and closed when the cycle ends.
type telemetryHub interface {
	Subscribe(extensionName string, body []byte) error
	Emit(t time.Time, eventType string, record any)
	CloseSubscriptions()
	LogWriter(kind, format string) io.WriteCloser
	Flush(ctx context.Context) error
	BeginShutdown()
	Close(ctx context.Context) error
	Stats() telemetry.Stats
}

// hubConfig mirrors telemetry.Config so the sandbox does not depend on its field layout elsewhere.
type hubConfig struct {
	Client           *http.Client
	Logger           *slog.Logger
	CurrentRequestID func() string
	DropEvent        func(eventType string) bool
	DelayBatch       func() time.Duration
	CheckDestination func(extensionName, protocol string, port int) error
}
