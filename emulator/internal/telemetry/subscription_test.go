package telemetry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSubscribeValidation(t *testing.T) {
	const dest = `"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/logs"}`
	const ok = `"schemaVersion":"2022-12-13",` + dest + `,"types":["platform"]`
	cases := []struct {
		name, body, field string
	}{
		{"not json", `{`, "request body"},
		{"array", `[]`, "request body"},
		{"null", `null`, "request body"},
		{"no schemaVersion", `{` + dest + `,"types":["platform"]}`, "schemaVersion is required"},
		{"schemaVersion number", `{"schemaVersion":1,` + dest + `,"types":["platform"]}`, "schemaVersion must be a string"},
		{"schemaVersion unknown", `{"schemaVersion":"2020-01-01",` + dest + `,"types":["platform"]}`, "schemaVersion"},
		{"no destination", `{"schemaVersion":"2022-07-01","types":["platform"]}`, "destination is required"},
		{"destination string", `{"schemaVersion":"2022-07-01","destination":"x","types":["platform"]}`, "destination must be an object"},
		{"no protocol", `{"schemaVersion":"2022-07-01","destination":{"URI":"http://sandbox:1/"},"types":["platform"]}`, "destination.protocol is required"},
		{"protocol lower", `{"schemaVersion":"2022-07-01","destination":{"protocol":"http","URI":"http://sandbox:1/"},"types":["platform"]}`, "destination.protocol"},
		{"protocol HTTPS", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTPS","URI":"https://sandbox:1/"},"types":["platform"]}`, "destination.protocol"},
		{"no URI", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP"},"types":["platform"]}`, "destination.URI is required"},
		{"URI number", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":5},"types":["platform"]}`, "destination.URI must be a string"},
		{"https URI", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"https://sandbox.localdomain:4243/"},"types":["platform"]}`, "https is not supported"},
		{"ftp URI", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"ftp://sandbox:4243/"},"types":["platform"]}`, "destination.URI"},
		{"no port", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain/logs"},"types":["platform"]}`, "must name a port"},
		{"foreign host", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://example.com:4243/"},"types":["platform"]}`, "host must be sandbox.localdomain, sandbox, 127.0.0.1, localhost or empty"},
		{"reserved port", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox:9001/"},"types":["platform"]}`, "destination.URI port 9001 is reserved"},
		{"port zero", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox:0/"},"types":["platform"]}`, "destination.URI port 0"},
		{"port too big", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox:70000/"},"types":["platform"]}`, "destination.URI port 70000"},
		{"user info", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://u:p@sandbox:80/"},"types":["platform"]}`, "user info"},
		{"tcp no port", `{"schemaVersion":"2022-07-01","destination":{"protocol":"TCP"},"types":["platform"]}`, "destination.port is required"},
		{"tcp port string", `{"schemaVersion":"2022-07-01","destination":{"protocol":"TCP","port":"80"},"types":["platform"]}`, "destination.port must be an integer"},
		{"tcp port 9001", `{"schemaVersion":"2022-07-01","destination":{"protocol":"TCP","port":9001},"types":["platform"]}`, "destination.port 9001 is reserved"},
		{"no types", `{"schemaVersion":"2022-07-01",` + dest + `}`, "types is required"},
		{"empty types", `{"schemaVersion":"2022-07-01",` + dest + `,"types":[]}`, "types must name at least one"},
		{"types string", `{"schemaVersion":"2022-07-01",` + dest + `,"types":"platform"}`, "types must be an array"},
		{"unknown type", `{"schemaVersion":"2022-07-01",` + dest + `,"types":["platform","logs"]}`, `types: "logs"`},
		{"buffering string", `{` + ok + `,"buffering":"x"}`, "buffering must be an object"},
		{"maxItems low", `{` + ok + `,"buffering":{"maxItems":999}}`, "buffering.maxItems"},
		{"maxItems high", `{` + ok + `,"buffering":{"maxItems":10001}}`, "buffering.maxItems"},
		{"maxItems zero", `{` + ok + `,"buffering":{"maxItems":0}}`, "buffering.maxItems"},
		{"maxItems float", `{` + ok + `,"buffering":{"maxItems":1000.5}}`, "buffering.maxItems"},
		{"maxBytes low", `{` + ok + `,"buffering":{"maxBytes":262143}}`, "buffering.maxBytes"},
		{"maxBytes high", `{` + ok + `,"buffering":{"maxBytes":1048577}}`, "buffering.maxBytes"},
		{"timeoutMs low", `{` + ok + `,"buffering":{"timeoutMs":24}}`, "buffering.timeoutMs"},
		{"timeoutMs high", `{` + ok + `,"buffering":{"timeoutMs":30001}}`, "buffering.timeoutMs"},
		{"timeoutMs string", `{` + ok + `,"buffering":{"timeoutMs":"100"}}`, "buffering.timeoutMs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHub(t, Config{})
			err := h.Subscribe("ext", []byte(tc.body))
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("Subscribe(%s) = %v, want *APIError", tc.body, err)
			}
			if apiErr.Status != 400 || apiErr.Type != "ValidationError" {
				t.Errorf("got %d %s, want 400 ValidationError", apiErr.Status, apiErr.Type)
			}
			if !strings.Contains(apiErr.Message, tc.field) {
				t.Errorf("message %q does not name %q", apiErr.Message, tc.field)
			}
			if h.Stats().Emitted != 0 {
				t.Errorf("a refused subscription emitted events")
			}
		})
	}
}

func TestParseSubscriptionAccepted(t *testing.T) {
	cases := []struct {
		name, body string
		want       subscription
	}{
		{"defaults", `{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/lambda_logs?x=1"},"types":["platform","function","platform"]}`,
			subscription{schemaVersion: "2022-07-01", protocol: "HTTP", host: "sandbox.localdomain:4243", port: 4243, path: "/lambda_logs?x=1",
				types: catPlatform | catFunction, typeNames: []string{"platform", "function"}, maxItems: 10000, maxBytes: 262144, timeout: time.Second}},
		{"bounds low", `{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox:8080"},"types":["extension"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}}`,
			subscription{schemaVersion: "2022-12-13", protocol: "HTTP", host: "sandbox:8080", port: 8080, path: "/",
				types: catExtension, typeNames: []string{"extension"}, maxItems: 1000, maxBytes: 262144, timeout: 25 * time.Millisecond}},
		{"bounds high, localhost", `{"schemaVersion":"2025-01-29","destination":{"protocol":"HTTP","URI":"http://localhost:1/"},"types":["function"],"buffering":{"maxItems":10000,"maxBytes":1048576,"timeoutMs":30000}}`,
			subscription{schemaVersion: "2025-01-29", protocol: "HTTP", host: "localhost:1", port: 1, path: "/",
				types: catFunction, typeNames: []string{"function"}, maxItems: 10000, maxBytes: 1048576, timeout: 30 * time.Second}},
		{"tcp", `{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","port":4244},"types":["platform"],"buffering":null}`,
			subscription{schemaVersion: "2022-12-13", protocol: "TCP", host: "sandbox.localdomain:4244", port: 4244,
				types: catPlatform, typeNames: []string{"platform"}, maxItems: 10000, maxBytes: 262144, timeout: time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSubscription([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got.schemaVersion != tc.want.schemaVersion || got.protocol != tc.want.protocol || got.host != tc.want.host ||
				got.port != tc.want.port || got.path != tc.want.path || got.types != tc.want.types ||
				strings.Join(got.typeNames, ",") != strings.Join(tc.want.typeNames, ",") ||
				got.maxItems != tc.want.maxItems || got.maxBytes != tc.want.maxBytes || got.timeout != tc.want.timeout {
				t.Errorf("got %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func FuzzSubscribe(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/lambda_logs"},"types":["platform","function"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100}}`))
	f.Add([]byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","port":4244},"types":["extension"]}`))
	f.Add([]byte(`{"schemaVersion":"2025-01-29","destination":{"protocol":"HTTP","URI":"http://[::1]:80/"},"types":["platform"]}`))
	f.Add([]byte(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://:4323/"},"types":["platform","function"]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"destination":{"URI":"http://sandbox:%zz/"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseSubscription(body)
		if err != nil {
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.Status != 400 || apiErr.Type != "ValidationError" || apiErr.Message == "" {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if s.port < 1 || s.port > 65535 || s.port == reservedPort {
			t.Errorf("accepted port %d", s.port)
		}
		if s.types == 0 || len(s.typeNames) == 0 {
			t.Errorf("accepted no types")
		}
		if s.maxItems < minMaxItems || s.maxItems > maxMaxItems || s.maxBytes < minMaxBytes || s.maxBytes > maxMaxBytes ||
			s.timeout < minTimeoutMs*time.Millisecond || s.timeout > maxTimeoutMs*time.Millisecond {
			t.Errorf("accepted buffering out of bounds: %+v", *s)
		}
		if s.protocol == "HTTP" && !strings.HasPrefix(s.path, "/") {
			t.Errorf("path %q does not start with /", s.path)
		}
	})
}
