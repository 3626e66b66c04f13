package servermetrics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A counter that falls mid-cell (the engine restarted) is counted from
// zero after the fall, as Prometheus's increase() counts it: 10→14 is 4,
// the restart to 3 adds 3, 3→5 adds 2.
func TestCounterDeltaAcrossARestart(t *testing.T) {
	v := func(x float64) Snapshot {
		return Snapshot{Preemptions: {V: x, Metric: "vllm:num_preemptions_total", Engine: "vllm"}}
	}
	c := summarise(v(10), []Snapshot{v(14), v(3)}, v(5))
	if c.Preemptions == nil || *c.Preemptions != 9 {
		t.Fatalf("preemptions %v, want 9", c.Preemptions)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "went down 1 time(s)") {
		t.Errorf("notes %q", c.Notes)
	}
	c = summarise(v(10), []Snapshot{v(12)}, v(15))
	if c.Preemptions == nil || *c.Preemptions != 5 || len(c.Notes) != 0 {
		t.Errorf("no restart: %v, notes %q", c.Preemptions, c.Notes)
	}
}

// SGLang's hit rate is a gauge of the last prefill batch, not hits over
// queries: the cell keeps its mean under another unit, so benchstat
// never sets it beside vLLM's token-weighted prefix-hit-%.
func TestPrefixHitGaugeHasItsOwnUnit(t *testing.T) {
	g := func(x float64) Snapshot {
		return Snapshot{PrefixHitRate: {V: x, Metric: "sglang:cache_hit_rate", Engine: "sglang"}}
	}
	c := summarise(g(0), []Snapshot{g(0.5), g(0.7)}, g(0))
	require.NotNil(t, c.PrefixHitPct)
	assert.InDelta(t, 60, *c.PrefixHitPct, 1e-9)
	assert.True(t, c.PrefixHitGauge)
	assert.Equal(t, []Metric{{60, "prefix-hit-gauge-%"}}, c.Metrics())

	v := func(h, q float64) Snapshot {
		return Snapshot{PrefixHits: {V: h, Metric: "vllm:prefix_cache_hits_total", Engine: "vllm"},
			PrefixQueries: {V: q, Metric: "vllm:prefix_cache_queries_total", Engine: "vllm"}}
	}
	c = summarise(v(0, 0), []Snapshot{v(10, 40)}, v(30, 100))
	assert.False(t, c.PrefixHitGauge)
	assert.Equal(t, []Metric{{30, "prefix-hit-%"}}, c.Metrics())
}
