package infbench_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
)

// A capacity search with sharding is refused at Load, naming both
// settings and that the search runs in one process only; either alone
// loads.
func TestShardedSweepIsRefused(t *testing.T) {
	for _, shard := range []map[string]string{
		{"INFBENCH_SHARD": "1/2"},
		{"INFBENCH_SHARDS": "2", "JOB_COMPLETION_INDEX": "0"},
	} {
		env := map[string]string{"INFBENCH_COORDINATOR": "127.0.0.1:1", "INFBENCH_SWEEP": "on", "INFBENCH_PROMPTS": "short"}
		for k, v := range shard {
			env[k] = v
		}
		_, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
		require.Error(t, err, "%v", shard)
		for _, want := range []string{"INFBENCH_SWEEP", "sweep.enabled", "INFBENCH_SHARD", "INFBENCH_SHARDS", "runs in one process only"} {
			assert.ErrorContains(t, err, want)
		}
		env["INFBENCH_SWEEP"] = "off"
		_, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
		assert.NoError(t, err, "sharded without the search")
	}
	_, err := infbench.Load(runFile, promptsFile, func(k string) string {
		return map[string]string{"INFBENCH_SWEEP": "on", "INFBENCH_PROMPTS": "short"}[k]
	})
	assert.NoError(t, err, "the search in one process")
}
