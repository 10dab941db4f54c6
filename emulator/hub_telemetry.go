package emulator

import (
	"errors"
	"time"

	"github.com/azlens/azlens/emulator/internal/telemetry"
)

// realHub adapts *telemetry.Hub to the sandbox's telemetryHub.
type realHub struct{ *telemetry.Hub }

func newHub(cfg hubConfig) telemetryHub {
	return realHub{telemetry.NewHub(telemetry.Config{
		Client:           cfg.Client,
		Logger:           cfg.Logger,
		CurrentRequestID: cfg.CurrentRequestID,
		DropEvent:        cfg.DropEvent,
		DelayBatch:       cfg.DelayBatch,
		CheckDestination: cfg.CheckDestination,
	})}
}

func (h realHub) Emit(t time.Time, eventType string, record any) {
	h.Hub.Emit(telemetry.Event{Time: t, Type: eventType, Record: record})
}

// telemetryAPIError is the HTTP status and error type a Subscribe failure maps to, when it has one.
func telemetryAPIError(err error) (status int, errType, msg string, ok bool) {
	var ae *telemetry.APIError
	if errors.As(err, &ae) {
		return ae.Status, ae.Type, ae.Message, true
	}
	return 0, "", "", false
}
