package infbench_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/resultsdir"
)

// Two runs with one INFBENCH_SEED reproduce the load (the same seed in
// the configuration lines) but not the prompts: their salts differ, and
// each run.json records its own salt seed.
func TestRerunWithASeedSendsNewSalts(t *testing.T) {
	env := map[string]string{"INFBENCH_SEED": "5eed"}
	var salts, seeds []string
	for i := range 2 {
		s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
		require.NoError(t, err)
		assert.Equal(t, uint64(0x5eed), s.Seed)
		dir := filepath.Join(t.TempDir(), "results")
		t.Setenv(resultsdir.EnvDir, dir)
		run, err := infbench.OpenRun(t.Context(), s, infbench.OpenProgress(false), io.Discard, false)
		require.NoError(t, err, "run %d", i)
		salts = append(salts, run.Salts.Next())
		r, err := resultsdir.ReadRun(dir)
		require.NoError(t, err)
		require.NotEmpty(t, r.SaltSeed)
		seeds = append(seeds, r.SaltSeed)
		require.NoError(t, run.Close(context.Background()))
	}
	assert.NotEqual(t, salts[0], salts[1], "a rerun's first salt is not the earlier run's")
	assert.NotEqual(t, seeds[0], seeds[1])
}
