package workload

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/infbench/infbench/config"
)

// draw draws one length from d, rounded and clamped to at least 1.
func draw(d config.Dist, rng *rand.Rand) int {
	var x float64
	switch d.Dist {
	case config.DistFixed:
		return d.Value
	case config.DistUniform:
		return d.Min + rng.IntN(d.Max-d.Min+1)
	case config.DistNormal:
		x = d.Mean + d.Std*rng.NormFloat64()
	case config.DistLognormal:
		mu, sigma := d.LogParams()
		x = math.Exp(mu + sigma*rng.NormFloat64())
	}
	return max(1, int(math.Round(x)))
}

// newRand is the generator of a workload's draws in a run: the run's
// seed and the workload's name, so that every engine gets the same.
func newRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}
