package region

import (
	"math/rand/v2"
	"sort"
)

// router spreads new invocations over zones in proportion to their weights. A zone of weight 0
// (shifted away) gets no new invocations; invocations already running there finish (drain).
type router struct {
	weights func(zones []string) map[string]float64
}

func newRouter(weights func([]string) map[string]float64) *router {
	return &router{weights: weights}
}

// order returns the zones to try for one invocation: first a weighted random pick among the
// zones that have a free environment, then the other eligible zones by descending weight, so an
// invocation spills over to another zone instead of being throttled while capacity exists.
func (rt *router) order(zones []string, hasFree func(string) bool) []string {
	w := rt.weightsFor(zones)
	var eligible []string
	var total float64
	for _, z := range zones {
		if w[z] > 0 && hasFree(z) {
			eligible = append(eligible, z)
			total += w[z]
		}
	}
	if len(eligible) == 0 {
		return nil
	}
	pick := 0
	x := rand.Float64() * total
	for i, z := range eligible {
		x -= w[z]
		if x < 0 {
			pick = i
			break
		}
	}
	out := make([]string, 0, len(eligible))
	out = append(out, eligible[pick])
	rest := append(append([]string(nil), eligible[:pick]...), eligible[pick+1:]...)
	sort.SliceStable(rest, func(i, j int) bool { return w[rest[i]] > w[rest[j]] })
	return append(out, rest...)
}

func (rt *router) weightsFor(zones []string) map[string]float64 {
	if rt.weights == nil {
		w := make(map[string]float64, len(zones))
		for _, z := range zones {
			w[z] = 1
		}
		return w
	}
	return rt.weights(zones)
}
