// Package cell runs one cell of the benchmark matrix: one engine at one
// load (a concurrency, or a request rate) with one workload. The
// workload's Source (a prompt category, Prompts; the other kinds are in
// package workload) builds the cell's requests — salted so that no prefix
// cache serves one from an earlier request unless the workload shares a
// prefix on purpose — which Run drives through the closed or open loop of
// package loadgen, and summarises the measured ones. It knows nothing of
// how the engine was started or where results go.
package cell

import (
	"fmt"
	"strconv"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// Cell is one point of the matrix: an engine at one concurrency (or one
// request rate) with one workload.
type Cell struct {
	Engine      string
	Concurrency int     // closed loop: requests in flight (0 for an open loop)
	Rate        float64 // open loop: requests per second (0 for a closed loop)
	Burstiness  float64 // open loop: gamma shape of the gaps (1: Poisson)
	MaxInFlight int     // open loop: cap on requests in flight
	Workload    string  // workload=<name>: a prompt category of prompts.yaml, or an entry of workloads:
	// Source builds the cell's requests (see package workload). Nil:
	// Prompts and MaxTokens, a prompt category (cell.Prompts).
	Source    Source
	Prompts   []string // the category's prompt texts, used in turn (Source nil)
	MaxTokens int      // fixed output length: max_tokens with ignore_eos (Source nil)
	Requests  int      // measured requests
	Warmup    int      // requests before them, excluded
	Ramp      time.Duration
	SLO       loadgen.SLO
	Seed      uint64 // the run's seed: prompt salts, open-loop schedules
	// Rep is which repetition of the cell this is (0 for the first of
	// -count): with Seed and Rate it fixes an open loop's arrivals.
	Rep int
	// GiveUpAfter is the loops' give-up rule (loadgen.ClosedLoop): 0 the
	// default, negative off.
	GiveUpAfter int
	// Shard is this process's part of the cell when several run it
	// together (see Shard); Concurrency, Rate, Requests and Warmup stay
	// the whole cell's.
	Shard Shard
}

// Name is the cell's benchmark name below BenchmarkServe.
func (c Cell) Name() string {
	return fmt.Sprintf("engine=%s/%s/workload=%s", c.Engine, c.Load(), c.Workload)
}

// Load is the load part of the name: conc=C, or rate=R for an open loop.
func (c Cell) Load() string {
	if c.Rate > 0 {
		return RateLoad(c.Rate)
	}
	return fmt.Sprintf("conc=%d", c.Concurrency)
}

// RateLoad names an open-loop load level: rate=R.
func RateLoad(rate float64) string { return "rate=" + strconv.FormatFloat(rate, 'g', -1, 64) }

// Conns is how many connections the cell's client needs.
func (c Cell) Conns() int {
	sh := ShareOf(c, c.Shard)
	if c.Rate > 0 {
		return sh.MaxInFlight
	}
	return max(1, sh.Concurrency)
}

// Loop is the cell's load pattern, and a phrase describing it. Every
// engine at one rate and repetition gets the same arrivals, so that
// differences between engines are not differences in the load offered;
// repetitions sample the arrival pattern. A shard (c.Shard) runs its
// share of the cell (ShareOf): a closed loop's share of the streams, or
// its arrivals of the open loop's one schedule (see Shard).
func (c Cell) Loop() (loadgen.Loop, string) {
	sh, of := ShareOf(c, c.Shard), ""
	if c.Shard.Sharded() {
		of = fmt.Sprintf(", shard %d of %d", c.Shard.Index, c.Shard.Count)
		// An open-loop shard with warmup arrivals only still sends them.
		if sh.Requests+sh.Warmup == 0 || (c.Rate == 0 && (sh.Requests == 0 || sh.Concurrency == 0)) {
			return idle{}, "nothing (an empty share" + of + ")"
		}
	}
	if c.Rate > 0 {
		ol := loadgen.OpenLoop{Rate: c.Rate, Burstiness: c.Burstiness, Warmup: c.Warmup, Requests: c.Requests,
			MaxInFlight: sh.MaxInFlight, Seed: loadgen.ScheduleSeed(c.Seed, c.Rate, c.Rep), GiveUpAfter: c.GiveUpAfter}
		if c.Shard.Sharded() {
			ol.Shard, ol.Shards = c.Shard.Index, c.Shard.Count
			of = fmt.Sprintf(", its arrivals k mod %d = %d: shard %d of %d", c.Shard.Count, c.Shard.Index, c.Shard.Index, c.Shard.Count)
		}
		return ol, fmt.Sprintf("%g requests/s (schedule %d of the run%s)", c.Rate, c.Rep, of)
	}
	return loadgen.ClosedLoop{Concurrency: sh.Concurrency, Warmup: sh.Warmup, Requests: sh.Requests, Ramp: c.loopRamp(sh.Concurrency),
		GiveUpAfter: c.GiveUpAfter}, fmt.Sprintf("concurrency %d%s", sh.Concurrency, of)
}

// Src is the cell's workload: Source, or else its Prompts and MaxTokens.
func (c Cell) Src() Source {
	if c.Source != nil {
		return c.Source
	}
	return Prompts{Texts: c.Prompts, MaxTokens: c.MaxTokens, Category: c.Workload}
}
