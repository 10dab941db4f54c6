package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// sampleTraces is one invocation as the lambdatelemetry receiver maps it: the invocation span
// and two children, under a resource naming the zone.
func sampleTraces(zone string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	if zone != "" {
		rs.Resource().Attributes().PutStr("cloud.availability_zone", zone)
	}
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	tid := pcommon.TraceID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	add := func(name string, id, parent byte, from, to time.Duration) {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID([8]byte{id}))
		if parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID([8]byte{parent}))
		}
		sp.SetName(name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(from)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(to)))
		sp.Attributes().PutStr("faas.invocation_id", "req-1")
	}
	add("hello", 1, 0, 0, 12*time.Millisecond)
	add("invoke", 2, 1, time.Millisecond, 9*time.Millisecond)
	add("extensionOverhead", 3, 1, 9*time.Millisecond, 12*time.Millisecond)
	return td
}

func postTrace(t *testing.T, url string) {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(sampleTraces("use1-az2")).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b)
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, url, &gz)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("OTLP export: %s %s", resp.Status, body)
	}
}

func TestOTLPEndpoint(t *testing.T) {
	c := newTestConsole()
	srv := httptest.NewServer(c.Handler(nil, nil))
	defer srv.Close()
	postTrace(t, srv.URL+"/otlp/v1/traces")

	// JSON, as the otlphttp exporter sends with encoding: json.
	js, _ := ptraceotlp.NewExportRequestFromTraces(sampleTraces("")).MarshalJSON()
	resp, err := http.Post(srv.URL+"/otlp/v1/traces", "application/json", bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("JSON export: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}

	for _, tc := range []struct {
		name, ctype, enc, body string
		status                 int
		says                   string
	}{
		{"media type", "text/plain", "", "x", http.StatusUnsupportedMediaType, "content-type"},
		{"encoding", "application/x-protobuf", "br", "x", http.StatusBadRequest, "content-encoding"},
		{"not gzip", "application/x-protobuf", "gzip", "plain", http.StatusBadRequest, "gzip"},
		{"bad protobuf", "application/x-protobuf", "", "\xff\xff\xff", http.StatusBadRequest, "body"},
		{"bad json", "application/json", "", "{", http.StatusBadRequest, "body"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/otlp/v1/traces", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		if tc.enc != "" {
			req.Header.Set("Content-Encoding", tc.enc)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(msg), tc.says) {
			t.Errorf("%s: %s %q, want %d naming %s", tc.name, resp.Status, msg, tc.status, tc.says)
		}
	}

	var list struct {
		Traces           []Trace `json:"traces"`
		Rejected         int64   `json:"rejected_exports"`
		SpansWithoutZone int64   `json:"spans_without_zone"`
	}
	getJSON(t, srv.URL+"/api/traces?zone=use1-az2", &list)
	if len(list.Traces) != 1 || list.Traces[0].Name != "hello" || list.Traces[0].Dur != 12 || list.Traces[0].Zone != "use1-az2" {
		t.Fatalf("traces = %+v, want the one invocation of 12 ms", list.Traces)
	}
	if list.Rejected != 5 || list.SpansWithoutZone != 3 {
		t.Errorf("rejected %d, spans without zone %d; want 5 and 3", list.Rejected, list.SpansWithoutZone)
	}
	var tr Trace
	getJSON(t, srv.URL+"/api/traces/"+list.Traces[0].TraceID, &tr)
	if len(tr.Spans) != 3 || tr.Spans[1].ParentID != tr.Spans[0].SpanID {
		t.Errorf("trace spans = %+v", tr.Spans)
	}
	resp, _ = http.Get(srv.URL + "/api/traces/00")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown trace: %s", resp.Status)
	}
	resp, _ = http.Get(srv.URL + "/metrics")
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "azlens_console_otlp_rejected_total 5") || !strings.Contains(string(m), "azlens_console_spans_without_zone_total 3") {
		t.Errorf("metrics:\n%s", m)
	}
}

func TestTraceBufferKeepsTheNewestPerZone(t *testing.T) {
	b := newTraceBuffer(zones, 2)
	for i := range 5 {
		td := sampleTraces("use1-az1")
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for j := range spans.Len() {
			sp := spans.At(j)
			sp.SetTraceID(pcommon.TraceID([16]byte{byte(i + 1)}))
			sp.SetStartTimestamp(sp.StartTimestamp() + pcommon.Timestamp(i)*1e9)
		}
		b.add(td)
	}
	got := b.list("")
	if len(got) != 2 || got[0].TraceID[:2] != "05" || got[1].TraceID[:2] != "04" || len(b.byID) != 2 {
		t.Errorf("kept %+v (%d by id), want traces 5 and 4", got, len(b.byID))
	}
}

func TestStateSinceAndHalving(t *testing.T) {
	c := New(Config{Zones: zones, MaxFrames: 4})
	for i := range 4 {
		c.Record(Frame{At: float64(i)}, nil, nil, nil)
	}
	s := c.state(2)
	if s.Reset || len(s.Frames) != 2 || s.Frames[0].At != 2 || s.Seq != 4 {
		t.Fatalf("since 2: %+v", s)
	}
	c.Record(Frame{At: 4}, nil, nil, nil) // 5 > 4 frames: halved to 0, 2, 4
	if s := c.state(4); !s.Reset || len(s.Frames) != 3 || s.Frames[2].At != 4 {
		t.Fatalf("since a halved sequence number: %+v", s)
	}
	c.Record(Frame{At: 5}, nil, nil, nil)
	if s := c.state(5); s.Reset || len(s.Frames) != 1 || s.Frames[0].At != 5 {
		t.Fatalf("since after halving: %+v", s)
	}
	if s := c.state(99); !s.Reset || len(s.Frames) != 4 {
		t.Fatalf("since from the future (an old page of an earlier run): %+v", s)
	}
	srv := httptest.NewServer(c.Handler(nil, nil))
	defer srv.Close()
	for _, q := range []string{"since=-1", "since=x"} {
		resp, _ := http.Get(srv.URL + "/api/state?" + q)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", q, resp.Status)
		}
	}
	resp, _ := http.Get(srv.URL + "/api/scenario?name=az-errors")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("scenario without templates: %s", resp.Status)
	}
}

func TestReportIsSelfContained(t *testing.T) {
	c := newTestConsole()
	rehearsal(c, 30)
	// A detail that would close the data's script element if it were not escaped.
	c.Finish(map[string]any{"scenario": "</script><script>alert(1)</script>"}, []Event{{At: 1, Event: "</script>"}})
	var b bytes.Buffer
	if err := c.WriteReport(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Count(page, "</script>") != 3 {
		t.Errorf("the report has %d </script>, want exactly 3 (data, uPlot, app)", strings.Count(page, "</script>"))
	}
	for _, want := range []string{"window.AZLENS_REPORT", "uPlot", "Permission is hereby granted", ".zones {"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeOTLPTraces(f *testing.F) {
	pb, _ := ptraceotlp.NewExportRequestFromTraces(sampleTraces("use1-az1")).MarshalProto()
	js, _ := ptraceotlp.NewExportRequestFromTraces(sampleTraces("use1-az1")).MarshalJSON()
	f.Add(pb, false, false)
	f.Add(js, true, false)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pb)
	zw.Close()
	f.Add(gz.Bytes(), false, true)
	f.Add([]byte("{"), true, false)
	f.Fuzz(func(t *testing.T, body []byte, isJSON, gzipped bool) {
		ctype, enc := "application/x-protobuf", ""
		if isJSON {
			ctype = "application/json"
		}
		if gzipped {
			enc = "gzip"
		}
		td, err := decodeOTLPTraces(bytes.NewReader(body), ctype, enc)
		if err != nil {
			return
		}
		b := newTraceBuffer(zones, 3)
		b.add(td)
		for _, tr := range b.list("") {
			if _, ok := b.get(tr.TraceID); !ok {
				t.Fatalf("listed trace %s not found", tr.TraceID)
			}
		}
	})
}
