package servermetrics_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
)

// The simulator's own /metrics, idle, parses to its names: nothing
// running or waiting, its batch limit, no preemption and no prefix-cache
// query yet.
func TestSimulatorMetrics(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", MaxBatch: 4})
	snap, err := servermetrics.Scrape(t.Context(), http.DefaultClient, url+"/metrics")
	require.NoError(t, err)
	assert.Equal(t, servermetrics.Snapshot{
		servermetrics.Running:       {V: 0, Metric: "sim:num_requests_running", Engine: "sim"},
		servermetrics.Waiting:       {V: 0, Metric: "sim:num_requests_waiting", Engine: "sim"},
		servermetrics.Preemptions:   {V: 0, Metric: "sim:num_preemptions_total", Engine: "sim"},
		servermetrics.PrefixHits:    {V: 0, Metric: "sim:prefix_cache_hits_total", Engine: "sim"},
		servermetrics.PrefixQueries: {V: 0, Metric: "sim:prefix_cache_queries_total", Engine: "sim"},
		servermetrics.MaxBatch:      {V: 4, Metric: "sim:max_batch", Engine: "sim"},
	}, snap)
}

// A cell's prefix hit rate is the simulator's hits over its queries
// during the cell, in tokens: a chat prompt sent cold, again, and another
// one is 2,000 hits of 6,024 queried tokens (each 2,000 tokens of text,
// 125 blocks, and 8 of the chat template, so the repeat hits every block).
// It reaches the benchmark line as prefix-hit-%.
func TestSimulatorCellPrefixHitRate(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	c := simtest.Client(t, url, "m", 1)
	s, err := servermetrics.Start(t.Context(), url+"/metrics", servermetrics.WithInterval(5*time.Millisecond))
	require.NoError(t, err)
	long := func(salt string) string { return salt + strings.Repeat("x", 8000-len(salt)) } // 2,000 tokens
	for _, p := range []string{long("a"), long("a"), long("b")} {
		rec := c.Do(t.Context(), loadgen.Request{Prompt: p, MaxTokens: 4}, time.Now())
		require.True(t, rec.OK(), rec.Error)
	}
	m := s.Stop(t.Context())
	require.NotNil(t, m.PrefixHitPct, m.Notes)
	assert.InDelta(t, 100*2000.0/6024, *m.PrefixHitPct, 1e-9)
	assert.Equal(t, "sim:prefix_cache_hits_total", m.Names[servermetrics.PrefixHits])
	assert.Equal(t, "sim:prefix_cache_queries_total", m.Names[servermetrics.PrefixQueries])
	assert.Contains(t, m.Metrics(), servermetrics.Metric{Value: 100 * 2000.0 / 6024, Unit: "prefix-hit-%"})
}

// A simulator cell at a concurrency above the engine's batch limit is
// flagged, naming the limit it saw; one below it is not.
func TestBatchLimitFlag(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", MaxBatch: 4})
	w, err := resultsdir.Create(filepath.Join(t.TempDir(), "results"), resultsdir.Run{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	run := func(conc int) servermetrics.Cell {
		c := cell.Cell{Engine: "sim", Concurrency: conc, Workload: "short", Prompts: []string{"hello there"},
			MaxTokens: 32, Requests: 4 * conc, Warmup: conc, GiveUpAfter: -1}
		s, err := servermetrics.Start(t.Context(), url+"/metrics", servermetrics.WithInterval(5*time.Millisecond))
		require.NoError(t, err)
		_, sum, err := simtest.Record(t.Context(), t, w, simtest.Client(t, url, "m", conc), c, cell.NewSalter(1), nil)
		require.NoError(t, err)
		require.Equal(t, 4*conc, sum.Completed)
		m := s.Stop(t.Context())
		require.Positive(t, m.Scrapes, "no sample while the cell ran")
		m.FlagBatchLimit(conc)
		return m
	}

	above := run(8)
	assert.Equal(t, 4.0, above.Running.Max)
	assert.Positive(t, above.Waiting.Max)
	assert.Equal(t, 4.0, *above.MaxBatch)
	require.Len(t, above.Flags, 1)
	assert.Contains(t, above.Flags[0], "ran at most 4 requests at once (its batch limit is 4)")
	assert.Contains(t, above.Flags[0], "concurrency 8")
	assert.Contains(t, above.Flags[0], "sim.max_batch")
	assert.Contains(t, above.Flags[0], "at least 8")
	assert.Equal(t, 0.0, *above.Preemptions)

	below := run(2)
	assert.LessOrEqual(t, below.Running.Max, 2.0)
	assert.Equal(t, 0.0, below.Waiting.Max)
	assert.Empty(t, below.Flags)

	// Idle again: the simulator shows no request left over from the
	// cells (a gauge not updated when its batch drained would).
	idle, err := servermetrics.Scrape(t.Context(), http.DefaultClient, url+"/metrics")
	require.NoError(t, err)
	assert.Equal(t, 0.0, idle[servermetrics.Running].V)
	assert.Equal(t, 0.0, idle[servermetrics.Waiting].V)

	open := above
	open.Flags = nil
	assert.False(t, open.FlagBatchLimit(0), "an open loop has no concurrency to fall short of")
}
