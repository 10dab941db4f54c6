package region

import (
	"math"
	"testing"
)

func TestRouterSpreadsByWeight(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	rt := newRouter(func([]string) map[string]float64 {
		return map[string]float64{"use1-az1": 1, "use1-az2": 1, "use1-az3": 0.25}
	})
	counts := map[string]int{}
	const n = 90_000
	for range n {
		order := rt.order(zones, func(string) bool { return true })
		counts[order[0]]++
	}
	want := map[string]float64{"use1-az1": 1 / 2.25, "use1-az2": 1 / 2.25, "use1-az3": 0.25 / 2.25}
	for z, p := range want {
		got := float64(counts[z]) / n
		// 6 standard deviations of a binomial proportion: fails only if the weighting is wrong.
		if tol := 6 * math.Sqrt(p*(1-p)/n); math.Abs(got-p) > tol {
			t.Errorf("zone %s got share %.4f, want %.4f ± %.4f", z, got, p, tol)
		}
	}
}

func TestRouterNeverPicksShiftedZone(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	rt := newRouter(func([]string) map[string]float64 {
		return map[string]float64{"use1-az1": 1, "use1-az2": 0, "use1-az3": 1}
	})
	for range 10_000 {
		for _, z := range rt.order(zones, func(string) bool { return true }) {
			if z == "use1-az2" {
				t.Fatal("router offered a zone whose weight is 0")
			}
		}
	}
}

func TestRouterSpillsOverToZonesWithCapacity(t *testing.T) {
	zones := []string{"use1-az1", "use1-az2", "use1-az3"}
	rt := newRouter(nil)
	hasFree := func(z string) bool { return z == "use1-az3" }
	for range 1000 {
		order := rt.order(zones, hasFree)
		if len(order) != 1 || order[0] != "use1-az3" {
			t.Fatalf("order = %v, want only the zone with a free environment", order)
		}
	}
	if got := rt.order(zones, func(string) bool { return false }); got != nil {
		t.Fatalf("order with no free environment = %v, want none", got)
	}
}

func TestParseFunctionName(t *testing.T) {
	for _, tc := range []struct{ in, name, qualifier string }{
		{"hello", "hello", ""},
		{"hello:prod", "hello", "prod"},
		{"123456789012:function:hello", "hello", ""},
		{"123456789012:function:hello:$LATEST", "hello", "$LATEST"},
		{"arn:aws:lambda:us-east-1:123456789012:function:hello", "hello", ""},
		{"arn:aws:lambda:us-east-1:123456789012:function:hello:7", "hello", "7"},
	} {
		name, q := parseFunctionName(tc.in)
		if name != tc.name || q != tc.qualifier {
			t.Errorf("parseFunctionName(%q) = %q, %q; want %q, %q", tc.in, name, q, tc.name, tc.qualifier)
		}
	}
}
