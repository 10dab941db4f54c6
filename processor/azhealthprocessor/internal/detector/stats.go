package detector

import "math"

// normalSF is the upper tail of the standard normal distribution, P(Z ≥ z).
func normalSF(z float64) float64 {
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// zTestGreater is the one-sided two-proportion z-test of H1: p1 > p2 with the
// pooled variance estimate. It returns 1 when the pooled proportion is 0 or 1,
// where the normal approximation says nothing.
func zTestGreater(x1, n1, x2, n2 float64) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	p := (x1 + x2) / (n1 + n2)
	if p <= 0 || p >= 1 {
		return 1
	}
	se := math.Sqrt(p * (1 - p) * (1/n1 + 1/n2))
	return normalSF((x1/n1 - x2/n2) / se)
}

// fisherGreater is the one-sided Fisher exact test of H1: p1 > p2, i.e. the
// hypergeometric tail P(X ≥ x1) where X is the number of the x1+x2 bad events
// that land in group 1 when n1 of the n1+n2 events are drawn for it.
func fisherGreater(x1, n1, x2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 || x1 < 0 || x2 < 0 || x1 > n1 || x2 > n2 {
		return 1
	}
	total := n1 + n2
	bad := x1 + x2
	hi := min(n1, bad)
	lo := max(0, bad-n2)
	if x1 <= lo {
		return 1
	}
	// log C(bad, k) + log C(total-bad, n1-k) - log C(total, n1)
	base := -logChoose(total, n1)
	var p float64
	for k := x1; k <= hi; k++ {
		term := math.Exp(logChoose(bad, k) + logChoose(total-bad, n1-k) + base)
		p += term
		// The pmf decreases beyond the mode; once terms stop mattering the
		// rest of the tail cannot either.
		if term < p*1e-17 {
			break
		}
	}
	return math.Min(p, 1)
}

func logChoose(n, k int64) float64 {
	return lgamma(float64(n)+1) - lgamma(float64(k)+1) - lgamma(float64(n-k)+1)
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// testGreater picks the z-test when every expected cell count of the 2×2
// table is at least 5 (where the normal approximation holds) and the exact
// Fisher tail otherwise.
func testGreater(x1, n1, x2, n2 float64) float64 {
	n := n1 + n2
	if n <= 0 {
		return 1
	}
	p := (x1 + x2) / n
	if n1*p >= 5 && n1*(1-p) >= 5 && n2*p >= 5 && n2*(1-p) >= 5 {
		return zTestGreater(x1, n1, x2, n2)
	}
	return fisherGreater(round(x1), round(n1), round(x2), round(n2))
}

func round(v float64) int64 { return int64(math.Round(v)) }

// binomialAtMost is the exact lower tail P(X ≤ k) of X ~ Binomial(n, p). The terms are
// summed from k away from the mode, where they shrink at least geometrically, so the cost is
// a few standard deviations of terms, not n: below the mode, P(X = k) + P(X = k−1) + …;
// at or above it, 1 − (P(X = k+1) + P(X = k+2) + …). Each term follows from the previous one
// by the ratio of consecutive binomial probabilities; only the first needs log-gamma.
func binomialAtMost(k, n int64, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n || p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	q := 1 - p
	pmf := func(j int64) float64 {
		return math.Exp(logChoose(n, j) + float64(j)*math.Log(p) + float64(n-j)*math.Log(q))
	}
	mode := int64(float64(n+1) * p)
	var sum float64
	if k < mode {
		term := pmf(k)
		for j := k; j >= 0; j-- {
			sum += term
			if term < sum*1e-17 || term == 0 {
				break
			}
			// P(X = j−1) = P(X = j) · j q / ((n − j + 1) p)
			term *= float64(j) * q / (float64(n-j+1) * p)
		}
		return math.Min(sum, 1)
	}
	term := pmf(k + 1)
	for j := k + 1; j <= n; j++ {
		sum += term
		if term < sum*1e-17 || term == 0 {
			break
		}
		// P(X = j+1) = P(X = j) · (n − j) p / ((j + 1) q)
		term *= float64(n-j) * p / (float64(j+1) * q)
	}
	return math.Max(0, 1-sum)
}
