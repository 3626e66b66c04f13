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
// loop lasts about as long.
//
// An open-loop cell at rate R is one schedule dealt out: every shard
// computes the whole cell's schedule, the one a single process would
// follow (the same seed, loadgen.ScheduleSeed of the run's seed, the
// rate and the repetition, and the same Warmup and Requests), and shard
// i sends its arrivals k with k mod Count = i, at their times in it,
// as request k (loadgen.OpenLoop's Shard and Shards); max_in_flight is
// split as evenly as possible. The shards' arrivals together are then
// exactly one process's, for any burstiness, gamma gaps included, and
// the warmup is the first Warmup arrivals of the whole schedule, so its
// end is one instant for all shards. Each shard's own arrivals are a
// thinned process (every n-th arrival), not a Poisson process of R/n;
// that does not matter, since the load the experiment offers is the
// merged one. This replaced Count independent processes of R/n each:
// Poisson ones add up to a Poisson process, gamma ones do not, and each
// shard's measured window began after its own share of the warmup, at
// a time of its own, so that the merged window was the union of
// windows that did not coincide and the merged rates came out low
// (38.5 requests/s due for a rate of 50, two shards of 25 requests of
// warmup and 20 measured each).
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

// Share is what one shard runs of a cell. An open-loop shard's Rate is
// the mean rate of its arrivals, R/Count; it follows the whole cell's
// schedule at rate R (see Shard).
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
		warm := s.arrivals(c.Warmup)
		return Share{Rate: c.Rate / float64(s.Count), MaxInFlight: max(1, Split(c.MaxInFlight, even)[s.Index]),
			Requests: s.arrivals(c.Warmup+c.Requests) - warm, Warmup: warm}
	}
	conc := Split(c.Concurrency, even)
	reqs := Split(c.Requests, conc)
	// The warmup goes to the shards with measured requests only: a shard
	// without any sends nothing (Cell.Loop), its warmup included, and a
	// warmup given to it would go unsent (and its shard count as short).
	active := make([]int, len(conc))
	for i := range conc {
		if reqs[i] > 0 {
			active[i] = conc[i]
		}
	}
	return Share{Concurrency: conc[s.Index], Requests: reqs[s.Index], Warmup: Split(c.Warmup, active)[s.Index]}
}

// arrivals is how many of the first total arrivals of an open-loop
// schedule are this shard's: those k < total with k mod Count = Index.
func (s Shard) arrivals(total int) int {
	if total <= s.Index {
		return 0
	}
	return (total - s.Index + s.Count - 1) / s.Count
}

// shardSeed is a workload's seed made this shard's own: the unsharded
// seed for a whole cell, else one mixed with the shard count and index,
// so that the shards draw their samples independently.
func shardSeed(seed uint64, s Shard) uint64 {
	if !s.Sharded() {
		return seed
	}
	return loadgen.ScheduleSeed(seed, float64(s.Count), s.Index)
}

// idle is the loop of a shard whose share of a cell is empty (fewer
// requests or slots than shards): it sends nothing.
type idle struct{}

func (idle) Run(context.Context, loadgen.Doer, func(context.Context, int) loadgen.Request, func(loadgen.Record)) ([]loadgen.Record, error) {
	return nil, nil
}

// StartDelay is how long after the shards' common start this shard
// starts its loop: with a ramp (a closed loop's Ramp), shard i of n
// starts Ramp·i/C late, and its own loop spreads its c workers over
// Ramp·c·n/C (loopRamp), so that its worker w starts at Ramp·(w·n + i)/C:
// the single process's worker w·n + i's time, rather than n workers at
// each of c instants. Split gives shard i exactly as many workers as
// there are w·n + i below C, so the shards' start times together are
// the single process's for any split (concurrency 5 on 2 shards: 0, 0.4,
// 0.8 and 0.2, 0.6 of the ramp). Zero without a ramp, for an open loop,
// or unsharded.
func (c Cell) StartDelay() time.Duration {
	if !c.Shard.Sharded() || c.Rate > 0 || c.Ramp <= 0 || c.Concurrency == 0 {
		return 0
	}
	return time.Duration(int64(c.Ramp) * int64(c.Shard.Index) / int64(c.Concurrency))
}

// loopRamp is the ramp of this shard's own closed loop at its share of
// conc streams: Ramp·conc·n/C, so that its worker w starts Ramp·w·n/C
// after StartDelay. It is Ramp unsharded (and for an even split, where
// conc = C/n).
func (c Cell) loopRamp(conc int) time.Duration {
	if !c.Shard.Sharded() || c.Ramp <= 0 || c.Concurrency == 0 {
		return c.Ramp
	}
	return time.Duration(int64(c.Ramp) * int64(conc) * int64(c.Shard.Count) / int64(c.Concurrency))
}
