package detector

import (
	"math"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*math.Max(math.Abs(want), 1e-300) {
		t.Errorf("%s = %.6g, want %.6g", name, got, want)
	}
}

func TestNormalSF(t *testing.T) {
	near(t, "normalSF(1.959964)", normalSF(1.959964), 0.025, 1e-5)
	near(t, "normalSF(3.090232)", normalSF(3.090232), 0.001, 1e-5)
	near(t, "normalSF(0)", normalSF(0), 0.5, 1e-12)
}

func TestZTestGreater(t *testing.T) {
	// 60/1000 vs 30/1000: pooled p = 0.045,
	// z = 0.03 / sqrt(0.045·0.955·0.002) = 3.2359, P(Z ≥ z) = 6.063e-4.
	near(t, "z-test", zTestGreater(60, 1000, 30, 1000), 6.063e-4, 2e-3)
	// One-sided: the reverse direction is not significant.
	if p := zTestGreater(30, 1000, 60, 1000); p < 0.99 {
		t.Errorf("reverse z-test p = %v, want ≈ 1", p)
	}
	if p := zTestGreater(0, 100, 0, 100); p != 1 {
		t.Errorf("no events: p = %v, want 1", p)
	}
}

func TestFisherGreater(t *testing.T) {
	// Fisher's tea tasting: [[3,1],[1,3]], one-sided p = 17/70.
	near(t, "tea tasting", fisherGreater(3, 4, 1, 4), 17.0/70, 1e-9)
	// All 3 bad of 6 in the first group of 3: 1/C(6,3) = 1/20.
	near(t, "3 of 3", fisherGreater(3, 3, 0, 3), 0.05, 1e-9)
	// 10 bad of 60 against 0 of 120: C(60,10)/C(180,10).
	want := math.Exp(logChoose(60, 10) - logChoose(180, 10))
	near(t, "canary crash", fisherGreater(10, 60, 0, 120), want, 1e-9)
	if want > 1.2e-5 || want < 0.9e-5 {
		t.Errorf("C(60,10)/C(180,10) = %v, want ≈ 1.0e-5", want)
	}
	if p := fisherGreater(0, 50, 5, 50); p != 1 {
		t.Errorf("nothing in group 1: p = %v, want 1", p)
	}
	if p := fisherGreater(5, 4, 0, 4); p != 1 {
		t.Errorf("impossible table: p = %v, want 1", p)
	}
}

func TestTestGreaterPicksExactTailForSmallCounts(t *testing.T) {
	// Expected bad in group 1 is 3.3 < 5: the exact tail, not the normal
	// approximation (which would say ≈ 2e-7 here).
	if got, want := testGreater(10, 60, 0, 120), fisherGreater(10, 60, 0, 120); got != want {
		t.Errorf("small counts: %v, want the Fisher tail %v", got, want)
	}
	if got, want := testGreater(60, 1000, 30, 1000), zTestGreater(60, 1000, 30, 1000); got != want {
		t.Errorf("large counts: %v, want the z-test %v", got, want)
	}
}

// binomialAtMostDirect sums every term of the lower tail: slow, obviously right.
func binomialAtMostDirect(k, n int64, p float64) float64 {
	var s float64
	for j := int64(0); j <= k && j <= n; j++ {
		s += math.Exp(logChoose(n, j) + float64(j)*math.Log(p) + float64(n-j)*math.Log(1-p))
	}
	return math.Min(s, 1)
}

func TestBinomialAtMost(t *testing.T) {
	// Hand-checkable: 2 heads or fewer in 10 fair tosses = (1 + 10 + 45) / 1024.
	near(t, "P(X≤2; 10, ½)", binomialAtMost(2, 10, 0.5), 56.0/1024, 1e-12)
	// 0 of 30 where a third was expected: (2/3)^30.
	near(t, "P(X≤0; 30, ⅓)", binomialAtMost(0, 30, 1.0/3), math.Pow(2.0/3, 30), 1e-12)
	// Both branches (below and above the mode) against the direct sum.
	for _, c := range []struct {
		k, n int64
		p    float64
	}{
		{0, 1, 0.5}, {1, 1, 0.5}, {3, 40, 1.0 / 3}, {13, 40, 1.0 / 3}, {14, 40, 1.0 / 3}, {30, 40, 1.0 / 3},
		{1700, 6000, 1.0 / 3}, {2000, 6000, 1.0 / 3}, {2100, 6000, 1.0 / 3}, {420, 12420, 1.0 / 3},
		{5, 200, 0.01}, {40, 100, 0.9},
	} {
		near(t, "binomialAtMost", binomialAtMost(c.k, c.n, c.p), binomialAtMostDirect(c.k, c.n, c.p), 1e-9)
	}
	for _, c := range []struct {
		k, n int64
		p    float64
		want float64
	}{
		{-1, 10, 0.5, 0}, {10, 10, 0.5, 1}, {11, 10, 0.5, 1}, {3, 10, 0, 1}, {3, 10, 1, 0},
	} {
		if got := binomialAtMost(c.k, c.n, c.p); got != c.want {
			t.Errorf("binomialAtMost(%d, %d, %v) = %v, want %v", c.k, c.n, c.p, got, c.want)
		}
	}
}
