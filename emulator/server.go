package emulator

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Runtime and Extensions APIs.
const (
	hdrRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionArn   = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID       = "Lambda-Runtime-Trace-Id"
	hdrClientContext = "Lambda-Runtime-Client-Context"
	hdrCognito       = "Lambda-Runtime-Cognito-Identity"
	hdrFuncErrorType = "Lambda-Runtime-Function-Error-Type"
	hdrFuncErrorBody = "Lambda-Runtime-Function-Error-Body"
	hdrExtName       = "Lambda-Extension-Name"
	hdrExtID         = "Lambda-Extension-Identifier"
	hdrExtEventID    = "Lambda-Extension-Event-Identifier"
	hdrExtFeature    = "Lambda-Extension-Accept-Feature"
	hdrExtErrorType  = "Lambda-Extension-Function-Error-Type"
	maxSmallBody     = 1 << 20
	metadataPath     = "/2026-01-15/metadata/execution-environment"
	metadataCacheCtl = "private, max-age=43200, immutable"
	// outputSyncLimit bounds the wait for a runtime's log lines at the end of an invocation.
	outputSyncLimit = 100 * time.Millisecond
)

// Extensions API error types (all 403).
const (
	extErrInvalidName  = "Extension.InvalidExtensionName"
	extErrMissingID    = "Extension.MissingExtensionIdentifier"
	extErrInvalidID    = "Extension.InvalidExtensionIdentifier"
	extErrUnknownID    = "Extension.UnknownExtensionIdentifier"
	extErrInvalidEvent = "Extension.InvalidEventType"
	extErrRegClosed    = "Extension.RegistrationClosed"
	extErrState        = "Extension.InvalidExtensionState"
	extErrMissingHdr   = "Extension.MissingHeader"
	extErrTooMany      = "Extension.TooManyExtensions"
	errInvalidFormat   = "InvalidRequestFormat"
)

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.runtimeNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.runtimeResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.runtimeError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.runtimeInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", s.extRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.extNext)
	mux.HandleFunc("POST /2020-01-01/extension/init/error", s.extInitError)
	mux.HandleFunc("POST /2020-01-01/extension/exit/error", s.extExitError)
	mux.HandleFunc("PUT /2022-07-01/telemetry", s.telemetrySubscribe)
	mux.HandleFunc(metadataPath, s.metadata)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Track handlers so Shutdown returns only when none is left (long polls included).
		s.reqMu.RLock()
		if s.reqDone {
			s.reqMu.RUnlock()
			writeError(w, http.StatusServiceUnavailable, "ServiceException", "sandbox is shut down")
			return
		}
		s.requests.Add(1)
		s.reqMu.RUnlock()
		defer s.requests.Done()
		mux.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, errType, msg string) {
	b, _ := json.Marshal(errorBody{ErrorMessage: msg, ErrorType: errType})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var statusOK = []byte(`{"status":"OK"}`)

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(statusOK)
}

// current is the running cycle, nil when none (before Start, after a reset, while stopping).
func (s *Sandbox) currentLocked() *cycle {
	c := s.cyc
	if c == nil || c.isStopping() {
		return nil
	}
	return c
}

func (s *Sandbox) runtimeNext(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.currentLocked()
	var out *outputPipe
	if c != nil && c.rt == rtAnswered && c.runtime != nil {
		out = c.runtime.out
	}
	s.mu.Unlock()
	if out != nil {
		// The invocation's log lines go out before its platform.runtimeDone.
		out.sync(outputSyncLimit)
	}
	s.mu.Lock()
	c = s.currentLocked()
	if c == nil {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, errInvalidState, "no execution environment is running")
		return
	}
	switch c.rt {
	case rtStarting:
		// The runtime's first /next ends extension registration (docs/lambda-apis.md, "Lifecycle").
		c.rt = rtAtNext
		c.regClosed = true
		c.broadcastLocked()
	case rtDetached:
		c.rt = rtAtNext
	case rtAnswered:
		c.rt = rtAtNext
		inv := c.cur
		if inv == nil {
			break
		}
		now := time.Now()
		inv.runtimeBack = now
		inv.back = true
		if !inv.doneEmitted {
			inv.doneEmitted = true
			// Emitted under the lock so it always precedes the report the watcher emits.
			s.emit(c, now, "platform.runtimeDone", runtimeDoneRecord{
				RequestID: inv.id, Status: inv.status, ErrorType: inv.errorType,
				Metrics: &runtimeDoneMetrics{DurationMs: millis(now.Sub(inv.handedOff)), ProducedBytes: inv.produced()},
				Spans: []spanRecord{
					span("responseLatency", inv.handedOff, inv.respStart),
					span("responseDuration", inv.respStart, inv.respEnd),
					span("runtimeOverhead", inv.respEnd, now),
				},
				Tracing: tracingFor(inv.trace, inv.spanID),
			})
		}
		c.completeLocked(inv)
	default:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, errInvalidState, "runtime is not allowed to call /next now")
		return
	}
	next, dead := c.next, c.dead
	s.mu.Unlock()

	select {
	case inv := <-next:
		s.mu.Lock()
		c.rt = rtInvoking
		inv.handedOff = time.Now()
		s.mu.Unlock()
		h := w.Header()
		h[hdrRequestID] = []string{inv.id}
		h[hdrDeadline] = []string{strconv.FormatInt(inv.deadline.UnixMilli(), 10)}
		h[hdrFunctionArn] = []string{s.arn}
		if inv.trace != "" {
			h[hdrTraceID] = []string{inv.trace}
		}
		if inv.req.ClientContext != "" {
			h[hdrClientContext] = []string{inv.req.ClientContext}
		}
		if inv.req.CognitoIdentity != "" {
			h[hdrCognito] = []string{inv.req.CognitoIdentity}
		}
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(inv.req.Payload))}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.req.Payload)
	case <-dead:
		writeError(w, http.StatusInternalServerError, "ServiceException", "execution environment is shutting down")
	case <-r.Context().Done():
		s.mu.Lock()
		if c.rt == rtAtNext {
			c.rt = rtDetached
		}
		s.mu.Unlock()
	}
}

func (inv *invocation) produced() int {
	if inv.funcError {
		return 0
	}
	return len(inv.payload)
}

// beginAnswer checks that the runtime may answer invocation id now and marks it answering.
func (s *Sandbox) beginAnswer(w http.ResponseWriter, id string) (*cycle, *invocation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.currentLocked()
	if c == nil || c.rt == rtStarting || c.rt == rtInitFailed {
		writeError(w, http.StatusForbidden, errInvalidState, "no invocation is running")
		return nil, nil, false
	}
	inv := c.cur
	if inv == nil || inv.id != id || c.rt != rtInvoking || inv.responding || inv.isAnswered {
		writeError(w, http.StatusBadRequest, errInvalidRequestID, "invalid request id "+strconv.Quote(id))
		return nil, nil, false
	}
	inv.responding = true
	inv.respStart = time.Now()
	return c, inv, true
}

// readLimited reads at most limit bytes; tooLarge reports a longer body.
func readLimited(r io.Reader, limit int) (b []byte, tooLarge bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(b) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

func (s *Sandbox) runtimeResponse(w http.ResponseWriter, r *http.Request) {
	c, inv, ok := s.beginAnswer(w, r.PathValue("id"))
	if !ok {
		return
	}
	body, tooLarge, err := readLimited(r.Body, maxPayload)
	s.mu.Lock()
	defer s.mu.Unlock()
	inv.responding = false
	inv.respEnd = time.Now()
	if err != nil && !tooLarge {
		// The runtime went away mid-response; its exit or the deadline ends the invocation.
		writeError(w, http.StatusBadRequest, errInvalidFormat, "read response body: "+err.Error())
		return
	}
	if tooLarge {
		msg := "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(maxPayload) + " bytes)."
		if inv.answerLocked(errorPayload(errResponseTooLarge, msg), true, errResponseTooLarge) {
			c.rt = rtAnswered
		}
		writeError(w, http.StatusRequestEntityTooLarge, errEntityTooLarge, msg)
		return
	}
	var answered bool
	// aws-lambda-go reports a failure while streaming the body in trailers, read after the body.
	if t := r.Trailer.Get(hdrFuncErrorType); t != "" {
		payload := errorPayload(t, "")
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(hdrFuncErrorBody)); err == nil && json.Valid(raw) {
			payload = raw
		}
		answered = inv.answerLocked(payload, true, normalizeErrorType(t))
	} else {
		answered = inv.answerLocked(body, false, "")
	}
	if !answered {
		writeError(w, http.StatusBadRequest, errInvalidRequestID, "invocation already ended")
		return
	}
	c.rt = rtAnswered
	writeAccepted(w)
}

func (s *Sandbox) runtimeError(w http.ResponseWriter, r *http.Request) {
	c, inv, ok := s.beginAnswer(w, r.PathValue("id"))
	if !ok {
		return
	}
	body, _, err := readLimited(r.Body, maxPayload)
	errType, payload := functionError(r.Header.Get(hdrFuncErrorType), body)
	if t := r.Trailer.Get(hdrFuncErrorType); t != "" && r.Header.Get(hdrFuncErrorType) == "" {
		errType = normalizeErrorType(t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv.responding = false
	inv.respEnd = time.Now()
	if err != nil {
		writeError(w, http.StatusBadRequest, errInvalidFormat, "read error body: "+err.Error())
		return
	}
	if !inv.answerLocked(payload, true, errType) {
		writeError(w, http.StatusBadRequest, errInvalidRequestID, "invocation already ended")
		return
	}
	c.rt = rtAnswered
	writeAccepted(w)
}

// functionError derives the telemetry error type and the caller's payload from a runtime's error
// post: the header wins, then the body's errorType; a body that is not JSON becomes the message.
func functionError(header string, body []byte) (errType string, payload []byte) {
	bodyType, msg, ok := parseErrorBody(body)
	t := header
	if t == "" {
		t = bodyType
	}
	errType = normalizeErrorType(t)
	if ok && json.Valid(body) {
		return errType, body
	}
	if !ok {
		msg = string(body)
	}
	if t == "" {
		t = errType
	}
	return errType, errorPayload(t, msg)
}

func (s *Sandbox) runtimeInitError(w http.ResponseWriter, r *http.Request) {
	body, _, _ := readLimited(r.Body, maxSmallBody)
	errType, payload := functionError(r.Header.Get(hdrFuncErrorType), body)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.currentLocked()
	if c == nil || c.rt != rtStarting {
		writeError(w, http.StatusForbidden, errInvalidState, "init error is accepted only during init")
		return
	}
	c.rt = rtInitFailed
	c.initErrType = errType
	_, msg, _ := parseErrorBody(payload)
	c.failLocked(failure{errType, msg, ShutdownFailure})
	writeAccepted(w)
}

func (s *Sandbox) extRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(hdrExtName)
	if name == "" {
		writeError(w, http.StatusForbidden, extErrInvalidName, "missing header "+hdrExtName)
		return
	}
	body, tooLarge, err := readLimited(r.Body, maxSmallBody)
	if err != nil || tooLarge {
		writeError(w, http.StatusForbidden, errInvalidFormat, "register body: unreadable or larger than 1 MiB")
		return
	}
	events, badEvent, err := parseRegisterBody(body)
	if badEvent != "" {
		writeError(w, http.StatusForbidden, extErrInvalidEvent, err.Error())
		return
	}
	if err != nil {
		writeError(w, http.StatusForbidden, errInvalidFormat, err.Error())
		return
	}
	s.mu.Lock()
	c := s.currentLocked()
	if c == nil || c.regClosed {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrRegClosed, "extension registration is closed")
		return
	}
	external := s.external[name]
	ext := &extension{name: name, id: newRequestID(), external: external, events: events, queue: make(chan []byte, 4)}
	if ext.events == nil {
		ext.events = []string{}
	}
	for _, e := range events {
		switch e {
		case "INVOKE":
			ext.onInvoke = true
		case "SHUTDOWN":
			ext.onShutdown = true
		}
	}
	switch {
	case !external && ext.onShutdown:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrInvalidEvent, "events: internal extension "+strconv.Quote(name)+" may not subscribe to SHUTDOWN")
		return
	case c.extByName(name) != nil:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrState, "extension "+strconv.Quote(name)+" is already registered")
		return
	case len(c.exts) >= maxExtensions:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrTooMany, "at most 10 extensions may register")
		return
	}
	c.exts = append(c.exts, ext)
	c.extByID[ext.id] = ext
	c.broadcastLocked()
	s.mu.Unlock()

	resp := map[string]string{
		"functionName":    s.fn.Name,
		"functionVersion": s.fn.Version,
		"handler":         s.fn.Handler,
	}
	for _, f := range strings.Split(r.Header.Get(hdrExtFeature), ",") {
		if strings.TrimSpace(f) == "accountId" {
			resp["accountId"] = s.fn.AccountID
		}
	}
	b, _ := json.Marshal(resp)
	w.Header().Set(hdrExtID, ext.id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// extension finds the caller from Lambda-Extension-Identifier, answering 403 when it cannot.
func (s *Sandbox) extension(w http.ResponseWriter, r *http.Request) (*cycle, *extension, bool) {
	id := r.Header.Get(hdrExtID)
	if id == "" {
		writeError(w, http.StatusForbidden, extErrMissingID, "missing header "+hdrExtID)
		return nil, nil, false
	}
	if !isUUID(id) {
		writeError(w, http.StatusForbidden, extErrInvalidID, "header "+hdrExtID+": not a UUID")
		return nil, nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.currentLocked()
	var e *extension
	if c != nil {
		e = c.extByID[id]
	}
	if e == nil {
		writeError(w, http.StatusForbidden, extErrUnknownID, "header "+hdrExtID+": unknown extension "+id)
		return nil, nil, false
	}
	return c, e, true
}

func (s *Sandbox) extNext(w http.ResponseWriter, r *http.Request) {
	c, e, ok := s.extension(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	switch e.state {
	case extWaiting:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrState, "extension "+strconv.Quote(e.name)+" is already waiting for an event")
		return
	case extExiting:
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, extErrState, "extension "+strconv.Quote(e.name)+" reported an exit error")
		return
	case extRegistered:
		e.ready = true
		c.broadcastLocked()
	case extProcessing:
		if inv := e.inv; inv != nil {
			e.inv = nil
			inv.extPending--
			c.completeLocked(inv)
		}
	}
	e.state = extWaiting
	dead := c.dead
	s.mu.Unlock()

	select {
	case ev := <-e.queue:
		s.mu.Lock()
		e.state = extProcessing
		s.mu.Unlock()
		h := w.Header()
		h[hdrExtEventID] = []string{newRequestID()}
		h["Content-Type"] = []string{"application/json"}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(ev)
	case <-dead:
		writeError(w, http.StatusInternalServerError, "ServiceException", "execution environment is shutting down")
	case <-r.Context().Done():
		s.mu.Lock()
		if e.state == extWaiting {
			e.state = extDetached
		}
		s.mu.Unlock()
	}
}

func (s *Sandbox) extInitError(w http.ResponseWriter, r *http.Request) {
	c, e, ok := s.extension(w, r)
	if !ok {
		return
	}
	errType := r.Header.Get(hdrExtErrorType)
	if errType == "" {
		writeError(w, http.StatusForbidden, extErrMissingHdr, "missing header "+hdrExtErrorType)
		return
	}
	_, _, _ = readLimited(r.Body, maxSmallBody)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.initDone {
		writeError(w, http.StatusForbidden, extErrState, "init error is accepted only during init")
		return
	}
	c.failLocked(failure{errExtensionInit, "extension " + e.name + " init error: " + errType, ShutdownFailure})
	writeAccepted(w)
}

func (s *Sandbox) extExitError(w http.ResponseWriter, r *http.Request) {
	_, e, ok := s.extension(w, r)
	if !ok {
		return
	}
	errType := r.Header.Get(hdrExtErrorType)
	if errType == "" {
		writeError(w, http.StatusForbidden, extErrMissingHdr, "missing header "+hdrExtErrorType)
		return
	}
	_, _, _ = readLimited(r.Body, maxSmallBody)
	s.mu.Lock()
	e.exitError = errType
	e.state = extExiting
	s.mu.Unlock()
	writeAccepted(w)
}

func (s *Sandbox) telemetrySubscribe(w http.ResponseWriter, r *http.Request) {
	c, e, ok := s.extension(w, r)
	if !ok {
		return
	}
	body, tooLarge, err := readLimited(r.Body, maxSmallBody)
	if err != nil || tooLarge {
		writeError(w, http.StatusBadRequest, "ValidationError", "subscription body: unreadable or larger than 1 MiB")
		return
	}
	if err := c.hub.Subscribe(e.name, body); err != nil {
		if status, errType, msg, ok := telemetryAPIError(err); ok {
			writeError(w, status, errType, msg)
			return
		}
		writeError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`"OK"`))
}

func (s *Sandbox) metadata(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != metadataPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method "+r.Method+" is not allowed; use GET")
		return
	}
	auth := r.Header.Get("Authorization")
	token, found := strings.CutPrefix(auth, "Bearer ")
	if !found || subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "header Authorization: missing or invalid bearer token")
		return
	}
	b, _ := json.Marshal(struct {
		AvailabilityZoneID string `json:"AvailabilityZoneID"`
	}{s.az})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", metadataCacheCtl)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
