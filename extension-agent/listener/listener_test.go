package listener

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fastjson"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sink struct {
	mu     sync.Mutex
	events [][]byte
	size   int
}

func (s *sink) Add(events [][]byte, size int) {
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.size += size
	s.mu.Unlock()
}

const samples = `[
 {"time":"2022-08-02T12:01:23.521Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","instanceId":"env-42"}},
 {"time":"2022-08-02T12:01:23.521Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST"}},
 {"time":"2022-08-02T12:01:23.522Z","type":"function","record":"hello \"world\" \u00e9\n"},
 {"time":"2022-08-02T12:01:23.523Z","type":"function","record":{"timestamp":"x","level":"INFO","requestId":"r1","message":"m"}},
 {"time":"2022-08-02T12:01:23.524Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success","metrics":{"durationMs":1.5}}},
 {"time":"2022-08-02T12:01:23.525Z","type":"platform.report","record":{"requestId":"r0","status":"success","metrics":{"durationMs":2,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":20}}},
 {"time":"2022-08-02T12:01:23.526Z","type":"platform.logsDropped","record":{"droppedBytes":10,"droppedRecords":1,"reason":"consumer seems to have fallen behind"}}
]`

func serve(t *testing.T, h http.Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/telemetry", strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestEventsKeepContentAndOrderAndPlatformNoticesFire(t *testing.T) {
	s := &sink{}
	var notices []Notice
	h := NewHandler(s, func(n Notice) { notices = append(notices, n) }, nil)
	if w := serve(t, h, http.MethodPost, samples); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var in []json.RawMessage
	if err := json.Unmarshal([]byte(samples), &in); err != nil {
		t.Fatal(err)
	}
	if len(s.events) != len(in) {
		t.Fatalf("got %d events, want %d", len(s.events), len(in))
	}
	total := 0
	for i := range in {
		if !bytes.Equal(in[i], s.events[i]) {
			t.Fatalf("event %d changed:\n%s\n%s", i, in[i], s.events[i])
		}
		total += len(s.events[i])
	}
	if s.size != total {
		t.Fatalf("size %d, want %d", s.size, total)
	}
	want := []Notice{
		{Type: "platform.initStart", InstanceID: "env-42"},
		{Type: "platform.start", RequestID: "r1", Time: time.Date(2022, 8, 2, 12, 1, 23, 521e6, time.UTC)},
		{Type: "platform.runtimeDone", RequestID: "r1", Time: time.Date(2022, 8, 2, 12, 1, 23, 524e6, time.UTC)},
		{Type: "platform.report", RequestID: "r0", Time: time.Date(2022, 8, 2, 12, 1, 23, 525e6, time.UTC)},
	}
	if fmt.Sprint(notices) != fmt.Sprint(want) {
		t.Fatalf("notices %v, want %v", notices, want)
	}
}

// A notice fires only once the POST's events are in the sink: the agent, woken by runtimeDone,
// flushes at once, and that flush must carry the runtimeDone itself (it failed once in CI when the
// notice came first: end mode let an invocation end before its data left).
func TestNoticesFireAfterTheEventsAreStored(t *testing.T) {
	s := &sink{}
	storedAtNotice := map[string]int{}
	h := NewHandler(s, func(n Notice) {
		s.mu.Lock()
		storedAtNotice[n.Type] = len(s.events)
		s.mu.Unlock()
	}, nil)
	if w := serve(t, h, http.MethodPost, samples); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if len(storedAtNotice) != 4 {
		t.Fatalf("notices %v, want 4 types", storedAtNotice)
	}
	for typ, n := range storedAtNotice {
		// The instance id re-stamps the resource before any of the POST's events can leave
		// under the old one; the lifecycle's notices wake flushes that must carry the events.
		want := 7
		if typ == "platform.initStart" {
			want = 0
		}
		if n != want {
			t.Errorf("%s notice fired with %d of the 7 events stored, want %d", typ, n, want)
		}
	}
}

func TestRejectsWhatLambdaNeverSends(t *testing.T) {
	for name, body := range map[string]string{
		"not json":      `[{"type":`,
		"object":        `{"type":"function"}`,
		"non-object":    `[1]`,
		"missing type":  `[{"time":"t","record":"x"}]`,
		"type not text": `[{"time":"t","type":3,"record":"x"}]`,
		"trailing":      `[] x`,
	} {
		t.Run(name, func(t *testing.T) {
			s := &sink{}
			if w := serve(t, NewHandler(s, nil, nil), http.MethodPost, body); w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", w.Code)
			}
			if len(s.events) != 0 {
				t.Fatal("events from a rejected body reached the sink")
			}
		})
	}
	if w := serve(t, NewHandler(&sink{}, nil, nil), http.MethodGet, ""); w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d", w.Code)
	}
	if w := serve(t, NewHandler(&sink{}, nil, nil), http.MethodPost, "[]"); w.Code != http.StatusOK {
		t.Fatalf("empty array: status %d", w.Code)
	}
}

// logBody is a Telemetry POST of n function log lines of size bytes each.
func logBody(n, size int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	line := strings.Repeat("a", size)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"%d %s"}`, i, line)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func TestLargeBodiesAndLinesOverRealHTTP(t *testing.T) {
	s := &sink{}
	srv, err := Listen("127.0.0.1", 0, NewHandler(s, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for _, c := range []struct{ n, size int }{
		{1, 300 << 10},  // one 300 KB line (larger than maxBytes: sent alone)
		{8, 256 << 10},  // 2 MiB: 2×maxBytes of the largest subscription
		{3, 1500 << 10}, // beyond anything Lambda sends, still under MaxBody
		{1000, 100},     // 1,000 short lines
	} {
		s.mu.Lock()
		s.events = nil
		s.mu.Unlock()
		resp, err := http.Post("http://"+srv.Addr()+Path, "application/json", bytes.NewReader(logBody(c.n, c.size)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d×%d B: status %d", c.n, c.size, resp.StatusCode)
		}
		s.mu.Lock()
		got := len(s.events)
		s.mu.Unlock()
		if got != c.n {
			t.Fatalf("%d×%d B: %d events reached the sink", c.n, c.size, got)
		}
	}
}

func TestRecordSplitAcrossPostsIsKeptPieceByPiece(t *testing.T) {
	// Lambda may split one huge log record over several POSTs: each piece is an event of its own;
	// the listener must neither reject nor merge them, and keep their order.
	s := &sink{}
	h := NewHandler(s, nil, nil)
	for i := range 3 {
		body := fmt.Sprintf(`[{"time":"2026-01-01T00:00:00.000Z","type":"function","record":"part%d-%s"}]`, i, strings.Repeat("z", 200<<10))
		if w := serve(t, h, http.MethodPost, body); w.Code != http.StatusOK {
			t.Fatalf("piece %d: status %d", i, w.Code)
		}
	}
	for i, e := range s.events {
		if !bytes.Contains(e, []byte(fmt.Sprintf(`"part%d-`, i))) {
			t.Fatalf("piece %d out of order", i)
		}
	}
}

func TestTooLargeBodyIsRefused(t *testing.T) {
	s := &sink{}
	r := httptest.NewRequest(http.MethodPost, "/telemetry", bytes.NewReader(make([]byte, MaxBody+1)))
	w := httptest.NewRecorder()
	NewHandler(s, nil, nil).ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/telemetry", bytes.NewReader(make([]byte, MaxBody+1)))
	r.ContentLength = -1 // chunked: the limit must hold while reading too
	w = httptest.NewRecorder()
	NewHandler(s, nil, nil).ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status %d", w.Code)
	}
}

func TestBindHost(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if h := BindHost(get); h != "sandbox.localdomain" {
		t.Fatalf("on Lambda: %s", h)
	}
	env["AWS_SAM_LOCAL"] = "true"
	if h := BindHost(get); h != "127.0.0.1" {
		t.Fatalf("with AWS_SAM_LOCAL: %s", h)
	}
}

// FuzzHandler feeds arbitrary bodies to the listener: it must answer 200 or 400 without panicking,
// and whatever it accepts must be events that are JSON objects with a string type.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(samples))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"type":"platform.report","record":{"requestId":1}}]`))
	f.Add([]byte(`[{"type":"platform.initStart","record":"x"},{"type":"x\u0000"}]`))
	f.Add(logBody(3, 10))
	f.Add([]byte(` [ {"type" : "platform.start" , "record":{"requestId":"a\\\"b"}} , {"a":[{"type":1}],"type":"x"} ] `))
	f.Add([]byte(`[{"type":{"type":"platform.report"}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &trackingSink{}
		h := NewHandler(s, func(Notice) {}, nil)
		w := serve(t, h, http.MethodPost, string(body))
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("status %d", w.Code)
		}
		if w.Code != http.StatusOK || !json.Valid(body) {
			return
		}
		// Accepted: the events must be exactly the array's elements, each with a string type.
		var in []json.RawMessage
		if err := json.Unmarshal(body, &in); err != nil {
			return // fastjson accepts a few things encoding/json does not (e.g. raw control bytes)
		}
		if len(in) != len(s.events) {
			t.Fatalf("%d events from %d elements", len(s.events), len(in))
		}
		var want []Transition
		for i := range in {
			if !bytes.Equal(bytes.TrimSpace(in[i]), s.events[i]) {
				t.Fatalf("event %d is %q, element is %q", i, s.events[i], in[i])
			}
			// Read it as the receiver does (fastjson: exact key, first occurrence).
			v, err := fastjson.ParseBytes(s.events[i])
			if err != nil || v.Get("type") == nil || v.Get("type").Type() != fastjson.TypeString {
				t.Fatalf("event %d accepted without a string type: %q", i, in[i])
			}
			// The active invocation changes where the receiver sees platform.start and
			// platform.report (agent.active must agree with the receiver's own reading).
			switch string(v.GetStringBytes("type")) {
			case "platform.start":
				want = append(want, Transition{Index: i, RequestID: string(v.GetStringBytes("record", "requestId"))})
			case "platform.report":
				want = append(want, Transition{Index: i, RequestID: string(v.GetStringBytes("record", "requestId")), End: true})
			}
		}
		if fmt.Sprint(s.tr) != fmt.Sprint(want) {
			t.Fatalf("transitions %+v; the receiver reads %+v", s.tr, want)
		}
	})
}

type trackingSink struct {
	sink
	tr []Transition
}

func (s *trackingSink) AddTracked(events [][]byte, size int, tr []Transition) {
	s.Add(events, size)
	s.mu.Lock()
	s.tr = append(s.tr, tr...)
	s.mu.Unlock()
}

// A TrackingSink learns, with the events, where platform.start and platform.report change the
// active invocation (by index in the POST); a JSON-escaped request id arrives unescaped.
func TestTrackingSinkGetsTransitions(t *testing.T) {
	s := &trackingSink{}
	if w := serve(t, NewHandler(s, nil, nil), http.MethodPost, samples); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := []Transition{{Index: 1, RequestID: "r1"}, {Index: 5, RequestID: "r0", End: true}}
	if fmt.Sprint(s.tr) != fmt.Sprint(want) || len(s.events) != 7 {
		t.Fatalf("transitions %+v (events %d), want %+v", s.tr, len(s.events), want)
	}
	s = &trackingSink{}
	body := `[{"time":"t","type":"platform.start","record":{"requestId":"a\"b\u00e9"}},{"time":"t","type":"function","record":"x"}]`
	if w := serve(t, NewHandler(s, nil, nil), http.MethodPost, body); w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if len(s.tr) != 1 || s.tr[0] != (Transition{Index: 0, RequestID: "a\"bé"}) {
		t.Fatalf("transitions %+v", s.tr)
	}
}
