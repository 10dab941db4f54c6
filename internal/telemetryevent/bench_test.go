package telemetryevent

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

// B1 (docs/benchmark-suite.md): decode Telemetry batches. Each corpus is decoded
// by this package ("azlens"), by encoding/json into []map[string]any (what
// the reference collector does) and by a raw fastjson.Parser.Parse (the
// ceiling), as separate sub-benchmarks for benchstat; BenchmarkB1
// (bench_ratio_test.go) reports the ratios of one interleaved run.

type corpus struct {
	name   string
	body   []byte
	events int
}

func platformEvents(n int) []string {
	var ev []string
	for i := 0; len(ev) < n; i++ {
		id := fmt.Sprintf("6f7f0961-5f8a-4b1e-9f2c-%012d", i)
		ev = append(ev,
			`{"time":"2026-03-01T10:00:00.000Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST","tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}}}`,
			`{"time":"2026-03-01T10:00:00.020Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":20.5,"producedBytes":15},"spans":[{"name":"responseLatency","start":"2026-03-01T10:00:00.000Z","durationMs":18.2},{"name":"responseDuration","start":"2026-03-01T10:00:00.018Z","durationMs":0.3}]}}`,
			`{"time":"2026-03-01T10:00:00.022Z","type":"platform.report","record":{"requestId":"`+id+`","status":"success","metrics":{"durationMs":22.0,"billedDurationMs":23,"memorySizeMB":128,"maxMemoryUsedMB":61}}}`,
		)
	}
	return ev[:n]
}

func logEvents(n, size int, jsonFormat bool) []string {
	msg := strings.Repeat("x", size)
	ev := make([]string, n)
	for i := range ev {
		if jsonFormat {
			ev[i] = `{"time":"2026-03-01T10:00:00.010Z","type":"function","record":{"timestamp":"2026-03-01T10:00:00.009Z","level":"INFO","requestId":"6f7f0961-5f8a-4b1e-9f2c-000000000001","message":"` + msg + `","orderId":"o-42","items":3}}`
		} else {
			ev[i] = `{"time":"2026-03-01T10:00:00.010Z","type":"function","record":"2026-03-01T10:00:00.009Z\t6f7f0961-5f8a-4b1e-9f2c-000000000001\tINFO\t` + msg + `\n"}`
		}
	}
	return ev
}

func corpora() []corpus {
	var cs []corpus
	add := func(name string, ev []string) {
		cs = append(cs, corpus{name: name, body: []byte("[" + strings.Join(ev, ",") + "]"), events: len(ev)})
	}
	for _, n := range []int{1, 100, 1000} {
		add(fmt.Sprintf("platform/n=%d", n), platformEvents(n))
	}
	for _, size := range []int{100, 1024, 16 << 10} {
		for _, n := range []int{1, 100, 1000} {
			if size*n > 4<<20 {
				continue // Lambda's buffering caps a POST at 2×1 MiB
			}
			add(fmt.Sprintf("text/%dB/n=%d", size, n), logEvents(n, size, false))
			add(fmt.Sprintf("json/%dB/n=%d", size, n), logEvents(n, size, true))
		}
	}
	add("text/300KB/n=1", logEvents(1, 300<<10, false))
	add("json/300KB/n=1", logEvents(1, 300<<10, true))
	return cs
}

func BenchmarkB1Decode(b *testing.B) {
	for _, c := range corpora() {
		b.Run(c.name+"/impl=azlens", func(b *testing.B) {
			var d Decoder
			run(b, c, func() error {
				batch, err := d.DecodeEvents(c.body)
				d.Release(batch) // as the receiver does once a batch is mapped
				return err
			})
		})
		b.Run(c.name+"/impl=encoding_json", func(b *testing.B) {
			run(b, c, func() error {
				var v []map[string]any
				return json.Unmarshal(c.body, &v)
			})
		})
		b.Run(c.name+"/impl=fastjson_raw", func(b *testing.B) {
			var p fastjson.Parser
			run(b, c, func() error { _, err := p.ParseBytes(c.body); return err })
		})
	}
}

func run(b *testing.B, c corpus, decode func() error) {
	b.SetBytes(int64(len(c.body)))
	if err := decode(); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		if err := decode(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	events := float64(b.N) * float64(c.events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
}
