package merge_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/merge"
	"github.com/infbench/infbench/resultsdir"
)

// mergedSummary merges the shards and returns the merged cell's summary.
func mergedSummary(t *testing.T, shards ...shardRun) loadgen.Summary {
	t.Helper()
	var dirs []string
	for _, s := range shards {
		dirs = append(dirs, s.write(t))
	}
	out := filepath.Join(t.TempDir(), "merged")
	require.NoError(t, merge.Merge(t.Context(), out, dirs, nil))
	sums, err := resultsdir.ReadSummaries(out)
	require.NoError(t, err)
	require.Len(t, sums.Cells, 1)
	return sums.Cells[0].Summary
}

// What cell.Run adds to a shard's summary and the records cannot give
// back, how input lengths were made and the give-up flag, survives the
// merge.
func TestMergeKeepsInputTokensAndGiveUp(t *testing.T) {
	const how = "tokenized by POST /tokenize"
	giveUp := (&loadgen.HopelessError{Failed: 8, Reason: "HTTP 404", Example: "not found"}).Error()
	s0, s1 := base(0), base(1)
	s0.summary = func(s *loadgen.Summary) { s.InputTokens = how }
	s1.summary = func(s *loadgen.Summary) {
		s.InputTokens = how
		s.Flags = append(s.Flags, giveUp)
	}
	sum := mergedSummary(t, s0, s1)
	assert.Equal(t, how, sum.InputTokens)
	assert.Contains(t, sum.Flags, "shard 1 "+giveUp)
	for _, f := range sum.Flags {
		assert.NotContains(t, f, "differently", "the shards agree")
	}
}

// Shards that made their input lengths differently (one tokenized, one
// estimated) are flagged, naming each; an empty share's silence is no
// disagreement.
func TestMergeFlagsInputTokensDisagreement(t *testing.T) {
	s0, s1 := base(0), base(1)
	s0.summary = func(s *loadgen.Summary) { s.InputTokens = "tokenized by POST /tokenize" }
	s1.summary = func(s *loadgen.Summary) { s.InputTokens = "estimated (4 bytes a token)" }
	sum := mergedSummary(t, s0, s1)
	assert.Equal(t, "tokenized by POST /tokenize", sum.InputTokens, "shard 0's")
	assert.Contains(t, sum.Flags, "the shards made input lengths differently (shard 0: tokenized by POST /tokenize; shard 1: estimated (4 bytes a token)): the merged lengths mix them")

	s1.summary = nil
	sum = mergedSummary(t, s0, s1)
	assert.Equal(t, "tokenized by POST /tokenize", sum.InputTokens)
	for _, f := range sum.Flags {
		assert.NotContains(t, f, "differently")
	}
}
