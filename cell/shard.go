package cell

import (
	"context"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// Shard is this process's part of a cell run by several load-generator
// processes at once: shard Index (from 0) of Count. The zero value, and
// any Count below 2, is the whole cell.
//
// A closed-loop cell at concurrency C gives shard i its share of C,
// split as evenly as possible (Split), and shares of the measured and
// warmup requests in proportion to its share of C, so that every shard's
// loop lasts about as long. An open-loop cell at rate R runs Count
// independent arrival processes of R/Count each, with equal shares of the
// requests and of max_in_flight; each shard's schedule has its own seed
// (Loop). The superposition of independent Poisson processes is a
// Poisson process of the summed rate, so a Poisson cell's merged
// arrivals are what one process would send. For gamma gaps of shape
// other than 1 (burstiness) this does not hold: the merged arrivals are
// not a gamma renewal process, each shard's gaps are as bursty (or as
// regular) as asked, and the merged stream tends to a Poisson process
// as Count grows.
type Shard struct {
	Index, Count int
}

// Sharded reports whether s splits a cell.
func (s Shard) Sharded() bool { return s.Count > 1 }

// Split divides total among weights in proportion to them: the floors of
// the exact shares, then the remainder one each to the largest fractional
// parts (the lower index first at a tie). With equal weights the shares
// differ by at most one, the first ones larger.
func Split(total int, weights []int) []int {
	out := make([]int, len(weights))
	sum := 0
	for _, w := range weights {
		sum += w
	}
	if sum == 0 {
		return out
	}
	given := 0
	rem := make([]int, len(weights)) // numerators of the fractional parts
	for i, w := range weights {
		out[i] = total * w / sum
		rem[i] = total * w % sum
		given += out[i]
	}
	for given < total {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
		given++
	}
	return out
}

// Share is what one shard runs of a cell.
type Share struct {
	Concurrency int     // closed loop
	Rate        float64 // open loop
	MaxInFlight int     // open loop
	Requests    int
	Warmup      int
}

// ShareOf returns shard s's part of c (all of it when s is not sharded).
func ShareOf(c Cell, s Shard) Share {
	if !s.Sharded() {
		return Share{Concurrency: c.Concurrency, Rate: c.Rate, MaxInFlight: c.MaxInFlight, Requests: c.Requests, Warmup: c.Warmup}
	}
	even := make([]int, s.Count)
	for i := range even {
		even[i] = 1
	}
	if c.Rate > 0 {
		return Share{Rate: c.Rate / float64(s.Count), MaxInFlight: max(1, Split(c.MaxInFlight, even)[s.Index]),
			Requests: Split(c.Requests, even)[s.Index], Warmup: Split(c.Warmup, even)[s.Index]}
	}
	conc := Split(c.Concurrency, even)
	return Share{Concurrency: conc[s.Index], Requests: Split(c.Requests, conc)[s.Index], Warmup: Split(c.Warmup, conc)[s.Index]}
}

// GlobalIndex is the run-wide index of this shard's local request i: the
// shards' indices interleave (i·Count + Index), so no two shards share one.
func (s Shard) GlobalIndex(i int) int {
	if !s.Sharded() {
		return i
	}
	return i*s.Count + s.Index
}

// shardSeed is an open-loop schedule seed made this shard's own: the
// unsharded seed for a whole cell, else one mixed with the shard count
// and index, so that the shards' arrival processes are independent.
func shardSeed(seed uint64, s Shard) uint64 {
	if !s.Sharded() {
		return seed
	}
	return loadgen.ScheduleSeed(seed, float64(s.Count), s.Index)
}

// idle is the loop of a shard whose share of a cell is empty (fewer
// requests or slots than shards): it sends nothing.
type idle struct{}

func (idle) Run(context.Context, loadgen.Doer, func(int) loadgen.Request, func(loadgen.Record)) ([]loadgen.Record, error) {
	return nil, nil
}

// StartDelay is how long after the shards' common start this shard
// starts its loop: with a ramp (a closed loop's Ramp), shard i of n
// starts Ramp·i/C late, and each of its workers Ramp·w/c after that (its
// own loop's ramp over its share c = C/n), so that worker w of shard i
// starts at Ramp·(w·n + i)/C: the single process's start times,
// interleaved, rather than n workers at each of c instants. Zero without
// a ramp, for an open loop, or unsharded.
func (c Cell) StartDelay() time.Duration {
	if !c.Shard.Sharded() || c.Rate > 0 || c.Ramp <= 0 || c.Concurrency == 0 {
		return 0
	}
	return time.Duration(int64(c.Ramp) * int64(c.Shard.Index) / int64(c.Concurrency))
}
