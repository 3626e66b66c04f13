package servermetrics_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/servermetrics"
)

func parseFile(t *testing.T, name string) servermetrics.Snapshot {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	snap, err := servermetrics.Parse(f)
	require.NoError(t, err)
	return snap
}

// Each engine's names map to the project's quantities; what an engine
// does not export is absent, not zero.
func TestParseEngines(t *testing.T) {
	type v = servermetrics.Value
	cases := []struct {
		file string
		want servermetrics.Snapshot
	}{
		{"vllm.prom", servermetrics.Snapshot{
			servermetrics.Running:       v{V: 12, Metric: "vllm:num_requests_running", Engine: "vllm"},
			servermetrics.Waiting:       v{V: 3, Metric: "vllm:num_requests_waiting", Engine: "vllm"},
			servermetrics.KVUsage:       v{V: 0.4375, Metric: "vllm:kv_cache_usage_perc", Engine: "vllm"},
			servermetrics.Preemptions:   v{V: 7, Metric: "vllm:num_preemptions_total", Engine: "vllm"},
			servermetrics.PrefixHits:    v{V: 5000, Metric: "vllm:prefix_cache_hits_total", Engine: "vllm"},
			servermetrics.PrefixQueries: v{V: 20000, Metric: "vllm:prefix_cache_queries_total", Engine: "vllm"},
		}},
		// Two data-parallel ranks: counts add up, usage and hit rate
		// are the larger rank's.
		{"sglang.prom", servermetrics.Snapshot{
			servermetrics.Running:       v{V: 64, Metric: "sglang:num_running_reqs", Engine: "sglang"},
			servermetrics.Waiting:       v{V: 2, Metric: "sglang:num_queue_reqs", Engine: "sglang"},
			servermetrics.KVUsage:       v{V: 0.625, Metric: "sglang:token_usage", Engine: "sglang"},
			servermetrics.PrefixHitRate: v{V: 0.125, Metric: "sglang:cache_hit_rate", Engine: "sglang"},
		}},
		{"sim.prom", servermetrics.Snapshot{
			servermetrics.Running:     v{V: 64, Metric: "sim:num_requests_running", Engine: "sim"},
			servermetrics.Waiting:     v{V: 36, Metric: "sim:num_requests_waiting", Engine: "sim"},
			servermetrics.Preemptions: v{V: 0, Metric: "sim:num_preemptions_total", Engine: "sim"},
			servermetrics.MaxBatch:    v{V: 64, Metric: "sim:max_batch", Engine: "sim"},
		}},
		{"untyped-sim.prom", servermetrics.Snapshot{
			servermetrics.Running: v{V: 3, Metric: "sim:num_requests_running", Engine: "sim"},
			servermetrics.Waiting: v{V: 0, Metric: "sim:num_requests_waiting", Engine: "sim"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			assert.Equal(t, tc.want, parseFile(t, tc.file))
		})
	}
}

// vLLM's deprecated KV-usage name is read only where the current one is
// missing.
func TestParseDeprecatedAlias(t *testing.T) {
	both := "vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.5\n"
	snap, err := servermetrics.Parse(strings.NewReader(both))
	require.NoError(t, err)
	assert.Equal(t, 0.5, snap[servermetrics.KVUsage].V)
	snap, err = servermetrics.Parse(strings.NewReader("vllm:gpu_cache_usage_perc 0.9\n"))
	require.NoError(t, err)
	assert.Equal(t, servermetrics.Value{V: 0.9, Metric: "vllm:gpu_cache_usage_perc", Engine: "vllm"}, snap[servermetrics.KVUsage])
}

// Text with none of the mapped names, or that is not the text format
// (TensorRT-LLM's /metrics is JSON), is an error that says what it held.
func TestParseRefusals(t *testing.T) {
	_, err := servermetrics.Parse(strings.NewReader("# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3.5\n"))
	require.ErrorIs(t, err, servermetrics.ErrNoKnownMetrics)
	assert.Contains(t, err.Error(), "process_cpu_seconds_total")

	_, err = servermetrics.Parse(strings.NewReader(""))
	require.ErrorIs(t, err, servermetrics.ErrNoKnownMetrics)

	// Written for the project: a JSON list like TensorRT-LLM's /metrics.
	_, err = servermetrics.Parse(strings.NewReader(`[{"iter": 4}]` + "\n"))
	require.Error(t, err)
	assert.False(t, errors.Is(err, servermetrics.ErrNoKnownMetrics))
	assert.Contains(t, err.Error(), "parsing Prometheus text")
}

// Every name of the table names an engine and a source, and no name maps
// to two quantities.
func TestNamesTable(t *testing.T) {
	seen := map[string]servermetrics.Quantity{}
	for _, n := range servermetrics.Names() {
		assert.NotEmpty(t, n.Engine, n.Metric)
		assert.Contains(t, n.Source, ",", "%s: source is repository, path", n.Metric)
		assert.True(t, strings.HasPrefix(n.Metric, n.Engine+":"), n.Metric)
		if n.Kind == servermetrics.Counter {
			assert.True(t, strings.HasSuffix(n.Metric, "_total"), "%s: counters are exposed with _total", n.Metric)
		}
		if q, dup := seen[n.Metric]; dup {
			t.Errorf("%s maps to %s and %s", n.Metric, q, n.Quantity)
		}
		seen[n.Metric] = n.Quantity
	}
}

// README.md's mapping table names every metric of Names.
func TestREADMECopiesNames(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	for _, n := range servermetrics.Names() {
		assert.Contains(t, string(readme), "`"+n.Metric+"`", "README.md's server-metrics table lacks %s (%s)", n.Metric, n.Quantity)
	}
}
