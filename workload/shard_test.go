package workload_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// runShards runs cell c on the simulator as one process (shards 0) or
// as n shards, each with its own salter as a shard process has
// (cell.NewShardSalter of the run's seed), and returns every request
// each sent.
func runShards(t *testing.T, url string, c cell.Cell, n int) [][]loadgen.Request {
	t.Helper()
	var out [][]loadgen.Request
	for i := range max(n, 1) {
		c := c
		salts := cell.NewSalter(c.Seed)
		if n > 1 {
			c.Shard = cell.Shard{Index: i, Count: n}
			salts = cell.NewShardSalter(c.Seed, c.Shard)
		}
		d := &logDoer{d: simtest.Client(t, url, "m", 4)}
		_, _, err := cell.Run(t.Context(), d, c, salts, nil, nil)
		require.NoError(t, err, "shard %d of %d", i, n)
		var reqs []loadgen.Request
		for _, s := range d.log {
			require.True(t, s.rec.OK(), s.rec.Error)
			reqs = append(reqs, s.req)
		}
		out = append(out, reqs)
	}
	return out
}

// unsalted is a request's prompt without its salt line, and its output.
func unsalted(reqs ...[]loadgen.Request) []string {
	var out []string
	for _, rs := range reqs {
		for _, r := range rs {
			_, body, _ := strings.Cut(r.Prompt, "\n")
			out = append(out, fmt.Sprintf("%s|%d", body, r.MaxTokens))
		}
	}
	slices.Sort(out)
	return out
}

// The shards of a run send together the dataset entries one process
// sends (a sample of 12 of 24, all sent once), in a closed and an open
// loop, not each the first entries of a sample of its own.
func TestShardedDatasetSendsOneProcessEntries(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	src, err := workload.New(config.WorkloadSpec{Name: "ds", Kind: config.WorkloadDataset, Path: "../testdata/workloads/sample.jsonl",
		Format: config.FormatJSONL, Sample: 12}, "")
	require.NoError(t, err)
	for _, c := range []cell.Cell{
		{Engine: "sim", Concurrency: 4, Workload: "ds", Source: src, Requests: 10, Warmup: 2, Seed: 7},
		// Uneven: shares of 3 and 2 slots, 7 and 5 requests.
		{Engine: "sim", Concurrency: 5, Workload: "ds", Source: src, Requests: 10, Warmup: 2, Seed: 7},
		{Engine: "sim", Rate: 400, Burstiness: 1, MaxInFlight: 4, Workload: "ds", Source: src, Requests: 10, Warmup: 2, Seed: 7},
	} {
		t.Run(c.Load(), func(t *testing.T) {
			one := unsalted(runShards(t, url, c, 1)...)
			require.Len(t, one, 12)
			require.Len(t, slices.Compact(slices.Clone(one)), 12, "one process sends each sampled entry once")
			assert.Equal(t, one, unsalted(runShards(t, url, c, 2)...), "two shards")
		})
	}
}

// The shards of a run draw the lengths one process draws.
func TestShardedSyntheticDrawsOneProcessLengths(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	src, err := workload.New(config.WorkloadSpec{Name: "syn", Kind: config.WorkloadSynthetic,
		InputTokens:  config.Dist{Dist: config.DistFixed, Value: 16},
		OutputTokens: config.Dist{Dist: config.DistUniform, Min: 1, Max: 64}}, "")
	require.NoError(t, err)
	outs := func(reqs ...[]loadgen.Request) []int {
		var o []int
		for _, rs := range reqs {
			for _, r := range rs {
				o = append(o, r.MaxTokens)
			}
		}
		slices.Sort(o)
		return o
	}
	for _, c := range []cell.Cell{
		{Engine: "sim", Concurrency: 4, Workload: "syn", Source: src, Requests: 20, Warmup: 4, Seed: 9},
		{Engine: "sim", Concurrency: 5, Workload: "syn", Source: src, Requests: 20, Warmup: 4, Seed: 9},
		{Engine: "sim", Rate: 400, Burstiness: 1, MaxInFlight: 4, Workload: "syn", Source: src, Requests: 20, Warmup: 4, Seed: 9},
	} {
		t.Run(c.Load(), func(t *testing.T) {
			one := outs(runShards(t, url, c, 1)...)
			require.Len(t, one, 24)
			assert.Equal(t, one, outs(runShards(t, url, c, 2)...), "two shards")
		})
	}
}

// A shared-prefix cell run by two shards sends its 3 groups' prefixes,
// the same on both, not 3 per shard; its requests' numbers stay
// disjoint; another cell of the run (same salter seed) has other
// prefixes.
func TestShardedSharedPrefixSharesGroups(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	src, err := workload.New(config.WorkloadSpec{Name: "sp", Kind: config.WorkloadSharedPrefix, Groups: 3, PrefixTokens: 40, SuffixTokens: 10,
		OutputTokens: config.Dist{Dist: config.DistFixed, Value: 4}}, "")
	require.NoError(t, err)
	prefixes := func(c cell.Cell) (map[string]bool, []string) {
		groups, numbers := map[string]bool{}, []string{}
		for _, rs := range runShards(t, url, c, 2) {
			for _, r := range rs {
				p, rest, ok := strings.Cut(r.Prompt, "\n[request ")
				require.True(t, ok, r.Prompt)
				groups[p] = true
				numbers = append(numbers, rest[:10])
			}
		}
		return groups, numbers
	}
	c := cell.Cell{Engine: "sim", Concurrency: 4, Workload: "sp", Source: src, Requests: 10, Warmup: 2, Seed: 5}
	groups, numbers := prefixes(c)
	assert.Len(t, groups, 3, "one prefix per group for the whole run")
	assert.Len(t, numbers, 12)
	slices.Sort(numbers)
	assert.Len(t, slices.Compact(numbers), 12, "no two requests of the run share a number")
	c.Concurrency = 2
	other, _ := prefixes(c)
	assert.Len(t, other, 3)
	for p := range other {
		assert.False(t, groups[p], "another cell of the run shares no prefix")
	}
}

// A multi-turn cell at concurrency 1 run by two shards: shard 1's share
// is empty and it sends nothing (it does not open the workload, which
// needs a concurrency); shard 0 runs the whole cell.
func TestShardedMultiTurnBelowShardCount(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 2,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 20}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 6}}, "")
	require.NoError(t, err)
	c := cell.Cell{Engine: "sim", Concurrency: 1, Workload: "mt", Source: src, Requests: 4, Seed: 3}
	reqs := runShards(t, url, c, 2)
	assert.Len(t, reqs[0], 4, "shard 0 runs the cell")
	assert.Empty(t, reqs[1], "shard 1's share is empty")
}
