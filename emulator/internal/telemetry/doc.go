// Package telemetry is the embedded runtime's Telemetry API hub (PUT /2022-07-01/telemetry): it
// validates subscriptions, fans the events of one execution environment out to the subscribed
// extensions and delivers them in batches, the way Lambda does.
//
// The sandbox drives it:
//
//	h := telemetry.NewHub(telemetry.Config{...})
//	h.Emit(telemetry.Event{Type: "platform.initStart", Record: ...})   // init begins
//	err := h.Subscribe(extensionName, body) // PUT /2022-07-01/telemetry; errors are *APIError
//	h.CloseSubscriptions()                  // end of init: later subscribes get 403
//	w := h.LogWriter("function", "JSON")    // runtime stdout/stderr → "function" events
//	h.Emit(...)                             // platform.start, runtimeDone, report, ...
//	h.Flush(ctx)                            // e.g. before SHUTDOWN completes
//	h.Close(ctx)                            // flush, then stop every goroutine
//
// Subscriptions. Subscribe applies the API's validation table (schemaVersion, destination, types,
// buffering bounds) and answers *APIError{400, "ValidationError", …} naming the field, or
// {403, "Telemetry.SubscriptionClosed", …} after CloseSubscriptions. Destinations name
// sandbox.localdomain, sandbox, 127.0.0.1, localhost or no host at all ("http://:4323/", what
// extensions built for SAM local send); whatever the host, the hub dials 127.0.0.1 on the given
// port (through Config.Client, whose dialer the emulator places inside the environment's network
// namespace), keeping the named host in the Host header.
// The sandbox sets AWS_SAM_LOCAL=true for extensions so that real extensions bind their listener on
// all interfaces instead of resolving sandbox.localdomain. A subscriber is first sent the events
// emitted since the hub was created (initStart, earlier telemetrySubscription events), then
// platform.telemetrySubscription for itself. Subscriptions are per extension and destination
// (protocol, port, path): a second destination adds one; the same destination again replaces that
// subscription, is replayed only the types the old one lacked, and the old one still delivers what
// it had queued.
//
// Delivery. Each subscriber has a queue and one goroutine. A batch (a JSON array POSTed to the
// destination, or NDJSON on one TCP connection) is sent when maxItems or maxBytes is reached or
// timeoutMs after its first event; a single record larger than maxBytes is sent alone. Failed
// deliveries (connection errors, non-2xx) are retried with capped exponential backoff; a batch
// refused with a permanent 4xx more than three times is dropped. Emit never blocks: while a
// subscriber is down or slow its queue holds up to Config.MaxQueueBytes, later records are
// dropped, and once it accepts again it is sent platform.logsDropped {droppedBytes,
// droppedRecords, reason} (when it subscribed to platform events). Every loss is counted in Stats
// and logged once per episode.
//
// TCP has no acknowledgement: a batch counts as delivered once written to the connection, and a
// failed write reconnects and resends the whole batch, so a consumer may see a record twice.
//
// Faults. Config.DropEvent loses chosen events before delivery; Config.DelayBatch holds each batch
// before it is sent.
package telemetry
