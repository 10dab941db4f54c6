package otlpin

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/azlens/azlens/extension-agent/listener"
)

// FuzzEndpoint feeds arbitrary bodies, content types and encodings to the endpoint. It must
// never panic, must answer only 200/400/413/415, and whatever it stores must be what the
// collector side can take: protobuf that walks as wire format, JSON that is one object.
func FuzzEndpoint(f *testing.F) {
	proto, js := encodings(f)
	f.Add(proto, true, false)
	f.Add(js, false, false)
	f.Add(gz(f, proto), true, true)
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, true, false)
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true, false)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x"}]}]}]}`), false, false)
	f.Add([]byte(`{"a":[[[[[[[[[[[[1]]]]]]]]]]]]}`), false, false)
	f.Fuzz(func(t *testing.T, body []byte, isProto, isGzip bool) {
		s := &sink{}
		h := NewHandler(s, s, 1<<16, nil)
		ct, ce := "application/json", ""
		if isProto {
			ct = "application/x-protobuf"
		}
		if isGzip {
			ce = "gzip"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if ce != "" {
			req.Header.Set("Content-Encoding", ce)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 413, 415:
		default:
			t.Fatalf("status %d", w.Code)
		}
		for _, p := range s.got {
			b := []byte(p.body)
			if p.encoding == Protobuf {
				if err := validateProto(b, "resource_spans"); err != nil {
					t.Fatalf("stored invalid protobuf: %v", err)
				}
			} else if err := listener.ValidateObject(b); err != nil {
				t.Fatalf("stored invalid json: %v", err)
			}
		}
		if w.Code == 200 && !isGzip && isProto && len(body) > 0 {
			// Whatever pdata decodes, the agent must have accepted (never 400 a valid request).
			if len(s.got) != 1 {
				t.Fatalf("accepted but stored %d", len(s.got))
			}
		}
		if w.Code == 400 && isProto && !isGzip {
			if _, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body); err == nil {
				t.Fatalf("rejected a body pdata decodes: %x", body)
			}
		}
	})
}
