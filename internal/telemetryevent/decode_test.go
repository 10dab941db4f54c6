package telemetryevent

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/valyala/fastjson"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDecodeAWSSamples(t *testing.T) {
	body, err := os.ReadFile("testdata/aws-samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	b, err := d.DecodeEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 6 {
		t.Fatalf("got %d events, want 6", len(b.Events))
	}
	wantTypes := []Type{TypePlatformInitStart, TypePlatformInitRuntimeDone, TypePlatformInitReport, TypePlatformStart, TypePlatformRuntimeDone, TypePlatformReport}
	for i, e := range b.Events {
		if e.Type != wantTypes[i] {
			t.Errorf("events[%d].Type = %v, want %v", i, e.Type, wantTypes[i])
		}
		if want := time.Date(2022, 8, 2, 12, 1, 23, 521e6, time.UTC); !e.Time.Equal(want) {
			t.Errorf("events[%d].Time = %v", i, e.Time)
		}
	}
	rd := b.Events[4]
	if rd.RequestID != "e6b761a9-c52d-415d-b040-7ba94b9452f3" || rd.Status != "success" ||
		rd.Metrics.DurationMs != 200 || rd.Metrics.ProducedBytes != 15 || rd.Metrics.Has != HasDurationMs|HasProducedBytes {
		t.Errorf("runtimeDone = %+v", rd)
	}
	if len(rd.Spans) != 2 || rd.Spans[0].Name != "responseLatency" || rd.Spans[0].DurationMs != 23.02 || rd.Spans[1].Name != "responseDuration" {
		t.Errorf("runtimeDone spans = %+v", rd.Spans)
	}
	if !rd.Tracing.Present || rd.Tracing.SpanID != "54565fb41ac79632" || !rd.Tracing.Header.Sampled() {
		t.Errorf("tracing = %+v", rd.Tracing)
	}
	rep := b.Events[5]
	if rep.Metrics.InitDurationMs != 200 || rep.Metrics.Has&HasInitDurationMs == 0 || rep.Metrics.BilledDurationMs != 300 {
		t.Errorf("report metrics = %+v", rep.Metrics)
	}
	if b.Events[2].Metrics.DurationMs != 123 || b.Events[0].InitializationType != "on-demand" {
		t.Errorf("init events = %+v %+v", b.Events[0], b.Events[2])
	}
	if !strings.Contains(b.Events[0].Record, `"runtimeVersion":"nodejs-14.v3"`) {
		t.Errorf("record json = %s", b.Events[0].Record)
	}
}

func TestDecodeAgentBatchAndLogs(t *testing.T) {
	body := `{"resource":{"cloud.availability_zone":"use1-az1","faas.max_memory":134217728,"x.flag":true},
	"agent":{"name":"azlens-agent","version":"0.1.0","seq":42,"active":"r\u00e91","events_received":7,"flush_duration_ms_sum":1.5,"future":"x"},
	"events":[
	 {"time":"2024-01-02T03:04:05.006Z","type":"function","record":"plain line\n"},
	 {"time":"2024-01-02T03:04:05.007Z","type":"function","record":{"timestamp":"2024-01-02T03:04:05.001234Z","level":"WARN","requestId":"r1","message":"hi","user":{"id":1},"n":2,"ok":false,"s":"v"}},
	 {"time":"2024-01-02T03:04:05+01:00","type":"platform.someFutureEvent","record":[1,2]}
	]}`
	var d Decoder
	b, err := d.DecodeAgentBatch([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Resource) != 3 || b.Resource[1].Kind != FieldNumber || b.Resource[1].Num != 134217728 || b.Resource[2].Kind != FieldBool {
		t.Errorf("resource = %+v", b.Resource)
	}
	a := b.Agent
	if a.Name != "azlens-agent" || a.Version != "0.1.0" || !a.HasSeq || a.Seq != 42 || len(a.Counters) != 2 || a.Counters[1] != (Counter{"flush_duration_ms_sum", 1.5}) ||
		!a.HasActive || a.Active != "ré1" {
		t.Errorf("agent = %+v", a)
	}
	var d2 Decoder
	if a, err := d2.DecodeAgentBatch([]byte(`{"resource":{},"agent":{"seq":1},"events":[]}`)); err != nil {
		t.Error(err)
	} else if a.Agent.HasActive {
		t.Errorf("agent without active: %+v", a.Agent)
	}
	if e := b.Events[0]; e.Message != "plain line\n" || e.JSONLog {
		t.Errorf("text log = %+v", e)
	}
	e := b.Events[1]
	if !e.JSONLog || e.Message != "hi" || e.Level != "WARN" || e.RequestID != "r1" || e.Timestamp.Nanosecond() != 1234000 || len(e.Fields) != 4 {
		t.Errorf("json log = %+v", e)
	}
	if e.Fields[0].Kind != FieldJSON || e.Fields[0].Str != `{"id":1}` {
		t.Errorf("nested field = %+v", e.Fields[0])
	}
	if u := b.Events[2]; u.Type != TypeUnknown || u.TypeName != "platform.someFutureEvent" || u.Record != "[1,2]" || u.Time.Hour() != 2 {
		t.Errorf("unknown event = %+v", u)
	}
}

func TestDecodeErrors(t *testing.T) {
	ev := func(s string) string { return `{"resource":{},"events":[` + s + `]}` }
	tests := []struct{ body, want string }{
		{``, "body is not json"},
		{`{"resource":`, "body is not json"},
		{`[]`, "body: must be a json object"},
		{`{"events":[]}`, "resource: missing"},
		{`{"resource":[],"events":[]}`, "resource: must be an object"},
		{`{"resource":{"a":{}},"events":[]}`, `resource."a": must be a string, number or bool`},
		{`{"resource":{}}`, "events: missing"},
		{`{"resource":{},"events":{}}`, "events: must be an array"},
		{`{"resource":{},"agent":{"seq":"1"},"events":[]}`, "agent.seq: must be an integer"},
		{`{"resource":{},"agent":{"active":null},"events":[]}`, "agent.active: must be a string"},
		{`{"resource":{},"agent":{"events_dropped":-1},"events":[]}`, "agent.events_dropped: counter must be a non-negative number"},
		{ev(`1`), "events[0]: must be an object"},
		{ev(`{"time":"2024-01-02T03:04:05.006Z","record":{}}`), "events[0].type: missing"},
		{ev(`{"type":1,"time":"2024-01-02T03:04:05.006Z","record":{}}`), "events[0].type: must be a string"},
		{ev(`{"type":"platform.start","record":{}}`), "events[0].time: missing"},
		{ev(`{"type":"platform.start","time":"2024-13-02T03:04:05.006Z","record":{}}`), `events[0].time: "2024-13-02T03:04:05.006Z" is not an rfc 3339 timestamp`},
		{ev(`{"type":"platform.start","time":"2024-01-02T03:04:05.006Z"}`), "events[0].record: missing"},
		{ev(`{"type":"platform.start","time":"2024-01-02T03:04:05.006Z","record":"x"}`), "events[0].record: must be an object"},
		{ev(`{"type":"platform.start","time":"2024-01-02T03:04:05.006Z","record":{}}`), "events[0].record.requestId: missing"},
		{ev(`{"type":"platform.start","time":"2024-01-02T03:04:05.006Z","record":{"requestId":5}}`), "events[0].record.requestId: must be a string"},
		{ev(`{"type":"platform.report","time":"2024-01-02T03:04:05.006Z","record":{"requestId":"r","metrics":{"durationMs":"1"}}}`), "events[0].record.metrics.durationMs: must be a number"},
		{ev(`{"type":"platform.report","time":"2024-01-02T03:04:05.006Z","record":{"requestId":"r","metrics":{"durationMs":-1}}}`), "events[0].record.metrics.durationMs: must be a non-negative number"},
		{ev(`{"type":"platform.runtimeDone","time":"2024-01-02T03:04:05.006Z","record":{"requestId":"r","spans":[{"name":"x"}]}}`), "events[0].record.spans[0].start: missing"},
		{ev(`{"type":"platform.runtimeDone","time":"2024-01-02T03:04:05.006Z","record":{"requestId":"r","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-zz"}}}`), "events[0].record.tracing.value: root:"},
		{ev(`{"type":"platform.runtimeDone","time":"2024-01-02T03:04:05.006Z","record":{"requestId":"r","tracing":{"spanId":"12"}}}`), "events[0].record.tracing.spanId: span id"},
		{ev(`{"type":"function","time":"2024-01-02T03:04:05.006Z","record":5}`), "events[0].record: must be a string or an object"},
	}
	var d Decoder
	for _, tt := range tests {
		_, err := d.DecodeAgentBatch([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeAgentBatch(%s) error = %v, want containing %q", tt.body, err, tt.want)
		}
	}
	if _, err := d.DecodeEvents([]byte(`{}`)); err == nil || err.Error() != "body: must be a json array of telemetry events" {
		t.Errorf("DecodeEvents({}) error = %v", err)
	}
}

// TestStringsSurviveParserReuse checks that decoded strings do not alias
// the pooled parser's buffer, which the next decode overwrites.
func TestStringsSurviveParserReuse(t *testing.T) {
	var d Decoder
	b1, err := d.DecodeEvents([]byte(`[{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"first line"}]`))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := d.DecodeEvents([]byte(`[{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"XXXXXXXXXXXXXXXXXXXXXXXXXXX"}]`)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b1.Events[0].Message; got != "first line" {
		t.Fatalf("message changed to %q", got)
	}
	// Strings also survive the release and reuse of the batch's arrays.
	msg := b1.Events[0].Message
	d.Release(b1)
	b2, err := d.DecodeEvents([]byte(`[{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"YYYYYYYYYYYYYYYYYYYYYY"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if msg != "first line" || b2.Events[0].Message != "YYYYYYYYYYYYYYYYYYYYYY" {
		t.Fatalf("after release: %q, %q", msg, b2.Events[0].Message)
	}
}

// checkRecords asserts that every platform/unknown event's Record is the
// JSON of its record: the same value fastjson finds in the body.
func checkRecords(t *testing.T, body []byte, envelope bool, b *Batch) {
	t.Helper()
	var p, q fastjson.Parser
	root, err := p.ParseBytes(body)
	if err != nil {
		t.Fatalf("decoded a body fastjson rejects: %v", err)
	}
	arr := root.GetArray()
	if envelope {
		arr = root.GetArray("events")
	}
	for i, e := range b.Events {
		if e.Type.IsLog() {
			continue
		}
		want := string(arr[i].Get("record").MarshalTo(nil))
		got, err := q.Parse(e.Record)
		if err != nil {
			t.Fatalf("events[%d].Record %q is not json: %v", i, e.Record, err)
		}
		if g := string(got.MarshalTo(nil)); g != want {
			t.Fatalf("events[%d].Record = %s, want %s", i, g, want)
		}
	}
}

func TestRecordVerbatim(t *testing.T) {
	body := []byte(` [ {"type":"platform.extension", "time":"2024-01-02T03:04:05.006Z", "record" : { "name":"a\"}b", "events":["INVOKE", "SHUTDOWN"], "x":{"y":[1,{"z":null}]} } } ,
	 {"time":"2024-01-02T03:04:05.006Z","type":"platform.future","record":[true,false,-1.5e3]},
	 {"time":"2024-01-02T03:04:05.006Z","type":"platform.start","rec\u006frd":{"requestId":"escaped key"}},
	 {"time":"2024-01-02T03:04:05.006Z","type":"function","record":"log"} ] `)
	var d Decoder
	b, err := d.DecodeEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Events[0].Record, `{ "name":"a\"}b", "events":["INVOKE", "SHUTDOWN"], "x":{"y":[1,{"z":null}]} }`; got != want {
		t.Errorf("verbatim record = %s, want %s", got, want)
	}
	if got := b.Events[1].Record; got != `[true,false,-1.5e3]` {
		t.Errorf("unknown record = %s", got)
	}
	// The escaped key is not found by the scan: MarshalTo is the fallback.
	if got := b.Events[2].Record; got != `{"requestId":"escaped key"}` {
		t.Errorf("fallback record = %s", got)
	}
	checkRecords(t, body, false, b)
}

func FuzzDecodeAgentBatch(f *testing.F) {
	samples, err := os.ReadFile("testdata/aws-samples.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"resource":{"faas.name":"fn"},"agent":{"seq":1},"events":` + string(samples) + `}`))
	f.Add([]byte(`{"resource":{},"events":[{"time":"2024-01-02T03:04:05.006Z","type":"function","record":{"message":"m","level":"INFO","k":[1]}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		var d Decoder
		b, err := d.DecodeAgentBatch(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("decoding modified the body")
		}
		if err != nil {
			if b != nil {
				t.Fatal("batch returned with error")
			}
			return
		}
		for _, e := range b.Events {
			if e.Time.IsZero() {
				t.Fatal("decoded event without time")
			}
		}
		checkRecords(t, body, true, b)
	})
}

func FuzzDecodeEvents(f *testing.F) {
	samples, err := os.ReadFile("testdata/aws-samples.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(samples)
	f.Add([]byte(`[{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"a\tb\u00e9\ud83d\ude00\/\x\u12\n"},` +
		`{"time":"2024-01-02T03:04:05.006Z","type":"extension","record":{"message":"m\"1","level":"IN\u0046O","k\u0031":"v\\"}}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := bytes.Clone(body)
		var d Decoder
		b, err := d.DecodeEvents(body)
		if !bytes.Equal(body, orig) {
			t.Fatal("decoding modified the body")
		}
		if err == nil && b == nil {
			t.Fatal("nil batch without error")
		}
		if err == nil {
			checkRecords(t, body, false, b)
			checkStrings(t, body, b)
		}
	})
}

// checkStrings asserts that log messages, levels and string fields are
// what fastjson's own unescaping gives.
func checkStrings(t *testing.T, body []byte, b *Batch) {
	t.Helper()
	var p fastjson.Parser
	root, err := p.ParseBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range root.GetArray() {
		e := b.Events[i]
		if !e.Type.IsLog() {
			continue
		}
		rec := v.Get("record")
		if rec.Type() == fastjson.TypeString {
			if want := string(rec.GetStringBytes()); e.Message != want {
				t.Fatalf("events[%d].Message = %q, want %q", i, e.Message, want)
			}
			continue
		}
		// Last occurrences win, as in the decoder; every string field must
		// be one of the record's values under its key.
		var msg, level *fastjson.Value
		strs := map[string][]string{}
		rec.GetObject().Visit(func(k []byte, fv *fastjson.Value) {
			switch string(k) {
			case "message":
				msg = fv
			case "level":
				if fv.Type() == fastjson.TypeString {
					level = fv
				}
			}
			if fv.Type() == fastjson.TypeString {
				strs[string(k)] = append(strs[string(k)], string(fv.GetStringBytes()))
			}
		})
		if msg != nil && msg.Type() == fastjson.TypeString && e.Message != string(msg.GetStringBytes()) {
			t.Fatalf("events[%d].Message = %q, want %q", i, e.Message, msg.GetStringBytes())
		}
		if level != nil && e.Level != string(level.GetStringBytes()) {
			t.Fatalf("events[%d].Level = %q, want %q", i, e.Level, level.GetStringBytes())
		}
		for _, fl := range e.Fields {
			if fl.Kind == FieldString && !slices.Contains(strs[fl.Key], fl.Str) {
				t.Fatalf("events[%d].Fields[%q] = %q, want one of %q", i, fl.Key, fl.Str, strs[fl.Key])
			}
		}
	}
}

// TestParseTimeMatchesTimeParse cross-checks the fast path against the
// standard library over dates across leap years and month ends.
func TestParseTimeMatchesTimeParse(t *testing.T) {
	for day := time.Date(1999, 12, 25, 23, 59, 59, 999e6, time.UTC); day.Year() < 2102; day = day.Add(97*time.Hour + 13*time.Minute + 7*time.Second + 3e6) {
		s := day.Format("2006-01-02T15:04:05.000Z")
		got, err := parseTime([]byte(s))
		if err != nil || !got.Equal(day) {
			t.Fatalf("parseTime(%s) = %v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"2023-02-29T00:00:00.000Z", "2024-04-31T00:00:00.000Z", "2024-01-01T24:00:00.000Z", "2024-00-01T00:00:00.000Z"} {
		if _, err := parseTime([]byte(bad)); err == nil {
			t.Errorf("parseTime(%s) accepted", bad)
		}
	}
	if got, err := parseTime([]byte("2024-02-29T12:00:00.5+01:00")); err != nil || !got.Equal(time.Date(2024, 2, 29, 11, 0, 0, 5e8, time.UTC)) {
		t.Errorf("rfc 3339 fallback = %v, %v", got, err)
	}
}

// The decoder's strings are views of the body when fastjson's Parser
// layout is the one it knows (v1.6.x); a change must be noticed, not just
// make decoding slower.
func TestStringsAreViewsOfBody(t *testing.T) {
	if !viewsOK || !objectsOK || !valuesOK {
		t.Fatalf("fastjson layout changed (parser %v, object %v, value %v): decoding is slower", viewsOK, objectsOK, valuesOK)
	}
	body := []byte(` [{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"plain"},{"time":"2024-01-02T03:04:05.006Z","type":"function","record":"esc\"aped"}]`)
	var d Decoder
	b, err := d.DecodeEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.Events[0].Message; m != "plain" || unsafe.StringData(m) != &body[bytes.Index(body, []byte("plain"))] {
		t.Errorf("plain message %q is not a view of the body", m)
	}
	if m := b.Events[1].Message; m != `esc"aped` {
		t.Errorf("escaped message = %q", m)
	}
}

// TestDateCacheMatchesParseTime runs timestamps that share, change and
// break the cached date through the cache and through parseTime.
func TestDateCacheMatchesParseTime(t *testing.T) {
	var c dateCache
	for _, s := range []string{
		"2024-02-29T12:00:00.500Z", "2024-02-29T12:00:01.000Z", "2024-02-29T23:59:59.999Z",
		"2024-02-29T24:00:00.000Z", "2024-02-29T12:60:00.000Z", "2024-02-29T12:00:0a.000Z", "2024-02-29T12:00:00,500Z",
		"2024-02-29T12:00:00.5+01:00", "2024-03-01T00:00:00.000Z", "2024-02-29T00:00:00.001Z",
		"2024-02-30T00:00:00.000Z", "2024-02-29T12:00:00,123Z", "2024-02-29T12:00:00.123Z", "2024-02-29T1:00:00.1234Z",
	} {
		want, werr := parseTime([]byte(s))
		got, err := c.parse([]byte(s))
		if (err != nil) != (werr != nil) || !got.Equal(want) {
			t.Errorf("cache.parse(%s) = %v, %v; parseTime = %v, %v", s, got, err, want, werr)
		}
	}
}

func TestDateCacheBefore1970(t *testing.T) {
	var c dateCache
	for _, s := range []string{"1969-12-31T23:59:59.999Z", "1969-12-31T00:00:00.000Z", "1969-12-31T12:00:00.000Z", "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:01.000Z"} {
		want, _ := parseTime([]byte(s))
		if got, err := c.parse([]byte(s)); err != nil || !got.Equal(want) {
			t.Errorf("cache.parse(%s) = %v, %v; want %v", s, got, err, want)
		}
	}
}
