package telemetryevent

import (
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

// BenchmarkB1 is B1 (docs/benchmark-suite.md) as the spec wants it reported:
// per corpus, one b.Loop iteration is one round in which every
// implementation decodes the corpus reps times (~10 ms), alternating the
// order round by round (ABCD, DCBA, …) with a GC before each, so that all share
// the machine's state of the moment. Reported: the medians over rounds of
// this decoder's ns/event and MB/s, its allocs/event, and the paired
// per-round ratios (median):
//
//	x_json    = encoding/json into []map[string]any ÷ this decoder (target ≥ 8)
//	x_raw     = fastjson.Parser.ParseBytes alone ÷ this decoder (target ≥ 0.5)
//	x_ceiling = ParseBytes + visiting every value (GetStringBytes on every
//	            string, Float64 on every number) ÷ this decoder
//
// Run with a small -benchtime in rounds, e.g. GOMAXPROCS=1 go test -run '^$'
// -bench B1$ -benchtime 7x.
func BenchmarkB1(b *testing.B) {
	for _, c := range corpora() {
		b.Run(c.name, func(b *testing.B) { b1Compare(b, c) })
	}
}

type b1Impl struct {
	name   string
	decode func() error
}

func b1Impls(c corpus) []b1Impl {
	var d Decoder
	var raw, ceil fastjson.Parser
	return []b1Impl{
		{"azlens", func() error {
			batch, err := d.DecodeEvents(c.body)
			d.Release(batch) // as the receiver does once a batch is mapped
			return err
		}},
		{"encoding_json", func() error {
			var v []map[string]any
			return json.Unmarshal(c.body, &v)
		}},
		{"fastjson_raw", func() error { _, err := raw.ParseBytes(c.body); return err }},
		{"fastjson_ceiling", func() error {
			v, err := ceil.ParseBytes(c.body)
			if err == nil {
				visitAll(v)
			}
			return err
		}},
	}
}

var visitSink int

// visitAll touches every value the way a decoder has to at least once.
func visitAll(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, fv *fastjson.Value) {
			visitSink += len(k)
			visitAll(fv)
		})
	case fastjson.TypeArray:
		for _, e := range v.GetArray() {
			visitAll(e)
		}
	case fastjson.TypeString:
		visitSink += len(v.GetStringBytes())
	case fastjson.TypeNumber:
		visitSink += int(v.GetFloat64())
	}
}

func b1Compare(b *testing.B, c corpus) {
	impls := b1Impls(c)
	for _, im := range impls {
		if err := im.decode(); err != nil {
			b.Fatalf("%s: %v", im.name, err)
		}
	}
	// reps: enough decodes for ~10 ms of this decoder per round, so that
	// each segment includes its own steady-state GC cycles (the GC before
	// each segment only keeps one implementation's garbage from being
	// collected in another's time).
	t0 := time.Now()
	n := 0
	for time.Since(t0) < time.Millisecond {
		_ = impls[0].decode()
		n++
	}
	reps := max(1, 10*n)

	// allocs/event of this decoder, steady state.
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range reps {
		_ = impls[0].decode()
	}
	runtime.ReadMemStats(&m1)
	allocs := float64(m1.Mallocs-m0.Mallocs) / float64(reps*c.events)

	var samples [4][]float64 // ns/event per round
	order := []int{0, 1, 2, 3}
	round := 0
	for b.Loop() {
		for _, i := range order {
			runtime.GC()
			start := time.Now()
			for range reps {
				if err := impls[i].decode(); err != nil {
					b.Fatal(err)
				}
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/float64(reps*c.events))
		}
		slices.Reverse(order)
		round++
	}
	b.StopTimer()
	ratio := func(ref int) float64 {
		r := make([]float64, len(samples[0]))
		for k := range r {
			r[k] = samples[ref][k] / samples[0][k]
		}
		return median(r)
	}
	ns := median(samples[0])
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ns, "ns/event")
	b.ReportMetric(float64(len(c.body))/float64(c.events)/ns*1e3, "MB/s")
	b.ReportMetric(allocs, "allocs/event")
	b.ReportMetric(median(samples[1]), "json-ns/event")
	b.ReportMetric(median(samples[2]), "raw-ns/event")
	b.ReportMetric(median(samples[3]), "ceiling-ns/event")
	b.ReportMetric(ratio(1), "x_json")
	b.ReportMetric(ratio(2), "x_raw")
	b.ReportMetric(ratio(3), "x_ceiling")
	b.ReportMetric(float64(round), "rounds")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
