package infbench_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/internal/benchtest"
)

// Acceptance (issue 11): a shared-prefix workload on the simulator shows
// lower TTFT than the same lengths salted per request, and the
// simulator's prefix-cache hit rate is in the cell's server metrics. Both
// cells run through the whole pipeline (Suite.Cell, Engine.Measure, the
// metrics scrape) on one engine, one after the other.
//
// The expectation comes from the simulator's timing model, not from a
// clock bound: every prompt is 1,056 tokens; salted, all of them are
// prefilled at 100 µs a token (≈ 106 ms); sharing a 1,024-token prefix
// within each of 2 groups, only the first request of a group prefills
// it, the others prefill their 32-token suffix (plus the rest of the
// last partial block). So the median TTFT must fall by at least half of
// the 102 ms the model saves, and the hit rate must be near the share of
// prompt tokens in the prefix.
func TestSharedPrefixBeatsSaltedThroughTheHarness(t *testing.T) {
	s, x, _ := benchtest.SimEngine(t, promptsFile, `      max_batch: 64
      timing: {step_base: 2ms, per_sequence: 20us, per_prefill_token: 100us}`, `workloads:
  - {name: shared, kind: shared_prefix, groups: 2, prefix_tokens: 1024, suffix_tokens: 32, output_tokens: 8}
  - {name: salted, kind: synthetic, input_tokens: 1056, output_tokens: 8}
run_workloads: [shared, salted]
requests: {min: 32, per_concurrency: 0}`)
	const perToken = 100 * time.Microsecond
	b := benchtest.Bench{T: t}

	shared, err := x.Measure(t.Context(), b, s.Cell("sim", 4, "shared"))
	require.NoError(t, err)
	salted, err := x.Measure(t.Context(), b, s.Cell("sim", 4, "salted"))
	require.NoError(t, err)

	require.NotNil(t, shared.Server, "the simulator's metrics were scraped")
	require.NotNil(t, salted.Server)
	require.NotNil(t, shared.Server.PrefixHitPct, "prefix hit rate in the shared cell's server metrics: %v", shared.Server.Notes)
	require.NotNil(t, salted.Server.PrefixHitPct, "prefix hit rate in the salted cell's server metrics: %v", salted.Server.Notes)
	t.Logf("shared prefix: TTFT p50 %v, prefix hits %.1f%%; salted: TTFT p50 %v, prefix hits %.1f%%",
		time.Duration(shared.Summary.TTFT.P50), *shared.Server.PrefixHitPct,
		time.Duration(salted.Summary.TTFT.P50), *salted.Server.PrefixHitPct)

	assert.Less(t, *salted.Server.PrefixHitPct, 1.0, "salted prompts miss the cache")
	assert.Greater(t, *shared.Server.PrefixHitPct, 80.0, "shared prefixes hit: 2 misses of 1,024 tokens among 36 requests")
	saved := salted.Summary.TTFT.P50 - shared.Summary.TTFT.P50
	assert.Greater(t, saved, float64(1024*perToken)/2, "the median TTFT falls by at least half of the prefill the model skips")

	var metric bool
	for _, m := range shared.Metrics {
		metric = metric || m.Unit == "prefix-hit-%"
	}
	assert.True(t, metric, "prefix-hit-% on the shared cell's benchmark line")
}
