package loadgen

import (
	"fmt"
	"math"
	"sort"
)

// Dist summarises a sample: its size, mean, standard deviation (n−1),
// extremes and percentiles. Percentiles interpolate linearly between the
// closest ranks: the p-th percentile of n sorted values x[0..n-1] is
// x[h] with h = (n−1)·p/100, interpolated between x[⌊h⌋] and x[⌈h⌉]
// (numpy's default, and what vLLM's and SGLang's benchmark scripts use).
type Dist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	// Flags names the percentiles computed from too few samples to mean
	// what they say: p90 with n < 10, p95 with n < 20, p99 with n < 100
	// (below those sizes the percentile is just one of the largest values).
	Flags []string `json:"flags,omitempty"`
}

// MinSamples returns the smallest sample for which percentile p ("p90",
// "p95", "p99") is reported without a flag: with fewer, not even one sample
// lies above it.
func MinSamples(p string) int {
	switch p {
	case "p90":
		return 10
	case "p95":
		return 20
	case "p99":
		return 100
	}
	return 1
}

// NewDist summarises xs (which it sorts in place).
func NewDist(xs []float64) Dist {
	d := Dist{N: len(xs)}
	if len(xs) == 0 {
		return d
	}
	sort.Float64s(xs)
	var sum float64
	for _, x := range xs {
		sum += x
	}
	d.Mean = sum / float64(len(xs))
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - d.Mean) * (x - d.Mean)
		}
		d.Std = math.Sqrt(ss / float64(len(xs)-1))
	}
	d.Min, d.Max = xs[0], xs[len(xs)-1]
	d.P50 = Percentile(xs, 50)
	d.P90 = Percentile(xs, 90)
	d.P95 = Percentile(xs, 95)
	d.P99 = Percentile(xs, 99)
	for _, p := range []string{"p90", "p95", "p99"} {
		if need := MinSamples(p); len(xs) < need {
			d.Flags = append(d.Flags, fmt.Sprintf("%s from %d samples (needs ≥ %d)", p, len(xs), need))
		}
	}
	return d
}

// Percentile returns the p-th percentile (0–100) of sorted, interpolating
// linearly between the closest ranks. It returns NaN for an empty slice.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	h := float64(n-1) * p / 100
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= n {
		return sorted[n-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}
