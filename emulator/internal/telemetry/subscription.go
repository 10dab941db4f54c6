package telemetry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIError is a Telemetry API error answer: the sandbox writes Status and the body
// {"errorType":Type,"errorMessage":Message}.
type APIError struct {
	Status  int
	Type    string // e.g. "ValidationError", "Telemetry.SubscriptionClosed"
	Message string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// Subscription bounds, from the Telemetry API reference.
const (
	defaultMaxItems  = 10000
	minMaxItems      = 1000
	maxMaxItems      = 10000
	defaultMaxBytes  = 262144
	minMaxBytes      = 262144
	maxMaxBytes      = 1048576
	defaultTimeoutMs = 1000
	minTimeoutMs     = 25
	maxTimeoutMs     = 30000

	// reservedPort is the Runtime API's port on Lambda; a listener there would shadow it.
	reservedPort = 9001
)

var schemaVersions = []string{"2022-07-01", "2022-12-13", "2025-01-29"}

// subscription is a validated PUT /2022-07-01/telemetry body.
type subscription struct {
	schemaVersion string
	protocol      string // "HTTP" or "TCP"
	// host is the Host the extension asked for (sent as the HTTP Host header); delivery always
	// dials loopback on port.
	host      string
	port      int
	path      string // HTTP request URI: path and query
	types     category
	typeNames []string // as given, without duplicates, for platform.telemetrySubscription
	maxItems  int
	maxBytes  int
	timeout   time.Duration
}

func validationError(format string, args ...any) *APIError {
	return &APIError{Status: 400, Type: "ValidationError", Message: fmt.Sprintf(format, args...)}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseSubscription validates body as the Telemetry API does. Every error names the offending
// field.
func parseSubscription(body []byte) (*subscription, error) {
	var raw struct {
		SchemaVersion json.RawMessage `json:"schemaVersion"`
		Destination   json.RawMessage `json:"destination"`
		Types         json.RawMessage `json:"types"`
		Buffering     json.RawMessage `json:"buffering"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, validationError("request body must be a json object: %v", err)
	}
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return nil, validationError("request body must be a json object")
	}
	s := &subscription{}

	if isNull(raw.SchemaVersion) {
		return nil, validationError("schemaVersion is required")
	}
	if err := json.Unmarshal(raw.SchemaVersion, &s.schemaVersion); err != nil {
		return nil, validationError("schemaVersion must be a string")
	}
	if !contains(schemaVersions, s.schemaVersion) {
		return nil, validationError("schemaVersion %q is not supported, use one of %s",
			s.schemaVersion, strings.Join(schemaVersions, ", "))
	}

	if err := s.parseDestination(raw.Destination); err != nil {
		return nil, err
	}
	if err := s.parseTypes(raw.Types); err != nil {
		return nil, err
	}
	if err := s.parseBuffering(raw.Buffering); err != nil {
		return nil, err
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *subscription) parseDestination(rawDest json.RawMessage) error {
	if isNull(rawDest) {
		return validationError("destination is required")
	}
	var d struct {
		Protocol json.RawMessage `json:"protocol"`
		URI      json.RawMessage `json:"URI"`
		Port     json.RawMessage `json:"port"`
	}
	if err := json.Unmarshal(rawDest, &d); err != nil {
		return validationError("destination must be an object")
	}
	if isNull(d.Protocol) {
		return validationError("destination.protocol is required")
	}
	if err := json.Unmarshal(d.Protocol, &s.protocol); err != nil {
		return validationError("destination.protocol must be a string")
	}
	switch s.protocol {
	case "HTTP":
		return s.parseURI(d.URI)
	case "TCP":
		if isNull(d.Port) {
			return validationError("destination.port is required for protocol TCP")
		}
		if err := json.Unmarshal(d.Port, &s.port); err != nil {
			return validationError("destination.port must be an integer")
		}
		if err := checkPort("destination.port", s.port); err != nil {
			return err
		}
		s.host = "sandbox.localdomain:" + strconv.Itoa(s.port)
		return nil
	default:
		return validationError("destination.protocol %q is not supported, use HTTP or TCP", s.protocol)
	}
}

// deliverableHosts are the hosts a destination may name; all of them mean this execution
// environment and are reached on loopback.
var deliverableHosts = []string{"sandbox.localdomain", "sandbox", "127.0.0.1", "localhost"}

func (s *subscription) parseURI(rawURI json.RawMessage) error {
	if isNull(rawURI) {
		return validationError("destination.URI is required for protocol HTTP")
	}
	var uri string
	if err := json.Unmarshal(rawURI, &uri); err != nil {
		return validationError("destination.URI must be a string")
	}
	u, err := url.Parse(uri)
	if err != nil {
		return validationError("destination.URI %q is not a url", uri)
	}
	switch u.Scheme {
	case "http":
	case "https":
		return validationError("destination.URI %q must use http, https is not supported", uri)
	default:
		return validationError("destination.URI %q must be an http url", uri)
	}
	if u.User != nil {
		return validationError("destination.URI %q must not carry user info", uri)
	}
	host, portText, err := net.SplitHostPort(u.Host)
	if err != nil || portText == "" {
		return validationError("destination.URI %q must name a port", uri)
	}
	// An empty host ("http://:4323/", what extensions built for SAM local send) means loopback
	// on Lambda too.
	if host != "" && !contains(deliverableHosts, strings.ToLower(host)) {
		return validationError("destination.URI %q: host must be sandbox.localdomain, sandbox, 127.0.0.1, localhost or empty (loopback)", uri)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return validationError("destination.URI %q has a bad port", uri)
	}
	if err := checkPort("destination.URI port", port); err != nil {
		return err
	}
	s.host, s.port = u.Host, port
	if host == "" {
		s.host = "127.0.0.1:" + portText
	}
	s.path = u.RequestURI()
	return nil
}

func checkPort(field string, port int) error {
	if port < 1 || port > 65535 {
		return validationError("%s %d must be between 1 and 65535", field, port)
	}
	if port == reservedPort {
		return validationError("%s %d is reserved for the runtime api", field, port)
	}
	return nil
}

func (s *subscription) parseTypes(rawTypes json.RawMessage) error {
	if isNull(rawTypes) {
		return validationError("types is required")
	}
	var types []string
	if err := json.Unmarshal(rawTypes, &types); err != nil {
		return validationError("types must be an array of strings")
	}
	if len(types) == 0 {
		return validationError("types must name at least one of platform, function, extension")
	}
	for _, t := range types {
		var c category
		switch t {
		case "platform":
			c = catPlatform
		case "function":
			c = catFunction
		case "extension":
			c = catExtension
		default:
			return validationError("types: %q is not one of platform, function, extension", t)
		}
		if s.types&c == 0 {
			s.typeNames = append(s.typeNames, t)
		}
		s.types |= c
	}
	return nil
}

func (s *subscription) parseBuffering(rawBuf json.RawMessage) error {
	s.maxItems, s.maxBytes, s.timeout = defaultMaxItems, defaultMaxBytes, defaultTimeoutMs*time.Millisecond
	if isNull(rawBuf) {
		return nil
	}
	var b struct {
		MaxItems  json.RawMessage `json:"maxItems"`
		MaxBytes  json.RawMessage `json:"maxBytes"`
		TimeoutMs json.RawMessage `json:"timeoutMs"`
	}
	if err := json.Unmarshal(rawBuf, &b); err != nil {
		return validationError("buffering must be an object")
	}
	var err error
	if s.maxItems, err = bound("buffering.maxItems", b.MaxItems, defaultMaxItems, minMaxItems, maxMaxItems); err != nil {
		return err
	}
	if s.maxBytes, err = bound("buffering.maxBytes", b.MaxBytes, defaultMaxBytes, minMaxBytes, maxMaxBytes); err != nil {
		return err
	}
	ms, err := bound("buffering.timeoutMs", b.TimeoutMs, defaultTimeoutMs, minTimeoutMs, maxTimeoutMs)
	if err != nil {
		return err
	}
	s.timeout = time.Duration(ms) * time.Millisecond
	return nil
}

func bound(field string, raw json.RawMessage, def, lo, hi int) (int, error) {
	if isNull(raw) {
		return def, nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil || v < lo || v > hi {
		return 0, validationError("%s must be an integer between %d and %d", field, lo, hi)
	}
	return v, nil
}
