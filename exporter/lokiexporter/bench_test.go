package lokiexporter

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/azlens/azlens/internal/clock"
)

// benchLogs is one collector batch as the receiver makes it: functions in
// zones, each record a ~150-byte line with trace context, an invocation id
// and the event type.
func benchLogs(records int) plog.Logs {
	ld := plog.NewLogs()
	const functions, zones = 4, 3
	per := records / (functions * zones)
	n := 0
	for f := 0; f < functions; f++ {
		for z := 0; z < zones; z++ {
			rl := ld.ResourceLogs().AppendEmpty()
			res := rl.Resource().Attributes()
			res.PutStr("service.name", fmt.Sprintf("fn-%d", f))
			res.PutStr("faas.name", fmt.Sprintf("fn-%d", f))
			res.PutStr("cloud.availability_zone", fmt.Sprintf("use1-az%d", z+1))
			res.PutStr("faas.instance", fmt.Sprintf("2026/11/26/[$LATEST]%016x", f*zones+z))
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for i := 0; i < per; i++ {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Duration(n) * time.Millisecond)))
				lr.Body().SetStr(fmt.Sprintf("2026-11-26T12:00:%02d.%03dZ\t8476a536-e9f4-11e8-9739-%012x\tINFO\tprocessed order %d for customer %d: %d items, total %d.%02d USD, payment %s in %d ms",
					n/1000%60, n%1000, n/10, 1_000_000+n*7919, n*104729%100000, n%17+1, n*31%1000, n%100, []string{"accepted", "declined", "pending"}[n%3], n%250))
				lr.SetSeverityNumber(plog.SeverityNumber(9 + 4*(n%3)))
				lr.SetTraceID(pcommon.TraceID{byte(n), byte(n >> 8), 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
				lr.SetSpanID(pcommon.SpanID{byte(n), 2, 3, 4, 5, 6, 7, 8})
				lr.Attributes().PutStr("faas.invocation_id", fmt.Sprintf("8476a536-e9f4-11e8-9739-%012x", n/10))
				lr.Attributes().PutStr("type", "function")
				n++
			}
		}
	}
	return ld
}

// BenchmarkPushEncoding measures the exporter's whole encoding of a batch
// (pdata → streams with labels and structured metadata, sort, protobuf,
// snappy) against a reference in the same run: plain protobuf encoding of
// the very same, already built PushRequest. "ratio" alternates the two in one
// loop and reports exporter time / reference time (x_reference); the
// separate sub-benchmarks report entries/s for benchstat.
func BenchmarkPushEncoding(b *testing.B) {
	const records = 1200
	ld := benchLogs(records)
	enc := newEncoder(createDefaultConfig().(*Config), clock.Real{})
	built, count := enc.encode(ld)
	if count != records {
		b.Fatalf("encoded %d entries, want %d", count, records)
	}

	reference := func() int {
		raw, err := built.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		return len(raw)
	}
	exporterPath := func() int {
		req, _ := enc.encode(ld)
		body, err := enc.marshalSnappy(&req)
		if err != nil {
			b.Fatal(err)
		}
		return len(body)
	}

	b.Run("reference=proto_marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			reference()
		}
		b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("exporter=encode+marshal+snappy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			exporterPath()
		}
		b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("ratio", func(b *testing.B) {
		var refTime, expTime time.Duration
		var rawBytes, wireBytes int
		for b.Loop() {
			start := time.Now()
			rawBytes = reference()
			mid := time.Now()
			wireBytes = exporterPath()
			expTime += time.Since(mid)
			refTime += mid.Sub(start)
		}
		b.ReportMetric(float64(expTime)/float64(refTime), "x_reference")
		b.ReportMetric(float64(records)/(float64(expTime)/float64(b.N)/1e9), "exporter_entries/s")
		b.ReportMetric(float64(records)/(float64(refTime)/float64(b.N)/1e9), "reference_entries/s")
		b.ReportMetric(float64(wireBytes)/float64(rawBytes), "snappy_ratio")
	})
}
