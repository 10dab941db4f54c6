package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/extension-agent/internal/collectortest"
)

// B8 of docs/benchmark-suite.md: overload and correctness at the Telemetry API boundary, with the real
// hub of the embedded runtime delivering to the real agent.

// oddLines are log lines a function may print that are hard on a JSON pipeline: invalid UTF-8,
// control characters, line separators, broken JSON, JSON objects (kept as they are in the JSON
// log format) with raw invalid UTF-8, and lines longer than a Telemetry API record (256 KiB),
// which the platform splits into several records, each sent in a POST of its own when larger
// than maxBytes. deep adds a JSON object nested 400 deep (valid JSON; deeper than the 300 levels
// the agent's and the receiver's parsers take).
func oddLines(inv int, deep bool) [][]byte {
	big := []byte(fmt.Sprintf("big %d ", inv))
	big = append(big, bytes.Repeat([]byte("z"), 600_000-len(big))...)
	bigJSON := []byte(fmt.Sprintf(`{"level":"INFO","big":%d,"pad":"`, inv))
	bigJSON = append(append(bigJSON, bytes.Repeat([]byte("q"), 300_000)...), `"}`...)
	lines := [][]byte{
		[]byte(fmt.Sprintf("before %d", inv)),
		[]byte("invalid utf-8 \xff\xfe \xc3 \xed\xa0\x80 end"),
		[]byte("nul \x00 ctl \x01\x1b[31m red \x7f tab\tcr\r"),
		[]byte("sep \u2028 \u2029 quote \" backslash \\ slash / emoji \U0001F600"),
		[]byte(`{"broken": "json"`),
		[]byte("{\"level\":\"INFO\",\"msg\":\"raw invalid utf-8 \xff in a JSON object\"}"),
		[]byte(`{"unicode":"\ud800 lone surrogate escape","n":1e400}`),
		big,
		bigJSON,
	}
	if deep {
		lines = append(lines, []byte(`{"deep":`+strings.Repeat("[", 400)+strings.Repeat("]", 400)+`}`))
	}
	return append(lines, []byte(fmt.Sprintf("after %d", inv)))
}

// asRecorded is line as the platform's Text format records it: without a trailing CR, each byte
// of invalid UTF-8 replaced by U+FFFD.
func asRecorded(line []byte) string {
	line = bytes.TrimSuffix(line, []byte("\r"))
	var b strings.Builder
	for len(line) > 0 {
		r, n := utf8.DecodeRune(line)
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.Write(line[:n])
		}
		line = line[n:]
	}
	return b.String()
}

// TestB8NoBatchLostToOneMalformedOrSplitRecord: whatever a function prints, in Text and JSON log
// format, every Telemetry API batch is accepted by the agent's listener at the first attempt (no
// retry, no drop at the hub, no platform.logsDropped), the agent drops nothing, the records the
// platform split (over several POSTs) arrive whole and in order, and every line printed around
// the odd ones reaches the collector. Text: the collector gets every byte printed, in order.
func TestB8NoBatchLostToOneMalformedOrSplitRecord(t *testing.T) {
	buildExtra(t)
	for _, c := range []struct {
		format string
		deep   bool
	}{{"Text", false}, {"JSON", false}, {"Text", true}, {"JSON", true}} {
		name := c.format
		if c.deep {
			name += "/nested-400-deep"
		}
		t.Run(name, func(t *testing.T) {
			sink := collectortest.New(t)
			logs := &logBuffer{}
			sb, err := emulator.NewSandbox(emulator.SandboxConfig{
				Function: emulator.Function{
					Name: "odd", Timeout: 10 * time.Second, LogFormat: c.format,
					Env: map[string]string{
						"AZLENS_COLLECTOR_ENDPOINT": sink.URL(), "AZLENS_SPOOL_DIR": t.TempDir(),
						"AZLENS_RETRY_INITIAL_MS": "10", "AZLENS_RETRY_MAX_MS": "50",
					},
					Runtime:    &emulator.ProcessRuntime{Path: oddlinesPath},
					Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
				},
				LogOutput: logs,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = sb.Shutdown(context.Background(), emulator.ShutdownSpindown)
				if t.Failed() {
					logs.mu.Lock()
					t.Logf("sandbox output (first KB of each line):\n%.20000s", logs.b.String())
					logs.mu.Unlock()
				}
			})
			if err := sb.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			const invocations = 5
			var ids []string
			var printed strings.Builder
			for i := range invocations {
				lines := oddLines(i, c.deep)
				payload, err := json.Marshal(map[string]any{"lines": lines})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, invoke(t, sb, string(payload)).RequestID)
				for _, l := range lines {
					printed.WriteString(asRecorded(l))
				}
			}
			// Before SHUTDOWN: once the agent has closed its listener, what the platform still
			// emits (its own last log lines) can no longer be delivered, which is no batch lost.
			drain(sb)
			st := sb.TelemetryStats()
			if st.Retries != 0 || st.DroppedRecords != 0 {
				t.Errorf("hub: %d retried deliveries, %d records dropped: the agent refused a batch", st.Retries, st.DroppedRecords)
			}
			shutdown(t, sb)

			ix := indexOf(sink.Batches())
			if err := ix.complete(ids); err != nil {
				t.Error(err)
			}
			if ix.types["platform.logsDropped"] != 0 || ix.maxAgent.EventsDropped != 0 {
				t.Errorf("drops: logsDropped %d, agent %+v", ix.types["platform.logsDropped"], ix.maxAgent)
			}
			msgs := functionMessages(t, sink.Batches())
			joined := strings.Join(msgs, "")
			if c.format == "Text" && joined != printed.String() {
				t.Errorf("the collector got %d bytes of function records, %d were printed (or they differ)", len(joined), printed.Len())
			}
			all := strings.Join(msgs, "\n")
			for i := range invocations {
				b, a := strings.Index(all, fmt.Sprintf("before %d\n", i)), strings.Index(all, fmt.Sprintf("after %d", i))
				if b < 0 || a < 0 || a < b {
					t.Errorf("invocation %d: line 'before' at %d, 'after' at %d", i, b, a)
				}
				if !strings.Contains(joined, string(oddLines(i, false)[7])) {
					t.Errorf("invocation %d: the 600 KB line (split by the platform) does not arrive whole", i)
				}
			}
		})
	}
}

// functionMessages is the text of every function record, deduplicated by batch (instance, seq):
// the record when it is a string, its message when it is a JSON-format wrapper, else its JSON.
func functionMessages(t *testing.T, batches []collectortest.Batch) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, b := range batches {
		key := fmt.Sprint(b.Resource["faas.instance"], "/", b.Agent.Seq)
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, e := range b.Events {
			if e.Type != "function" {
				continue
			}
			var s string
			if json.Unmarshal(e.Record, &s) == nil {
				out = append(out, s)
				continue
			}
			var w struct {
				Message *string `json:"message"`
			}
			if json.Unmarshal(e.Record, &w) == nil && w.Message != nil {
				out = append(out, *w.Message)
				continue
			}
			out = append(out, string(e.Record))
		}
	}
	return out
}
