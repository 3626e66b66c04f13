package report_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// Recompute rebuilds a multi-turn cell's per-turn TTFT from its records,
// and leaves it out of a cell without turns.
func TestRecomputePerTurn(t *testing.T) {
	mt := resultsdir.Key{Cell: "engine=e/conc=1/workload=mt", Engine: "e", Conc: 1, Workload: "mt"}
	plain := resultsdir.Key{Cell: "engine=e/conc=1/workload=s", Engine: "e", Conc: 1, Workload: "s"}
	rec := func(turn int, ttft time.Duration) loadgen.Record {
		return loadgen.Record{Session: min(turn, 1), Turn: turn, TTFT: ttft, E2E: ttft + time.Millisecond, End: ttft + time.Millisecond,
			Events:       []loadgen.Event{{At: ttft, Tokens: 1, Bytes: 1}, {At: ttft + time.Millisecond, Tokens: 1, Bytes: 1}},
			OutputTokens: 2, MaxTokens: 2}
	}
	reqs := []resultsdir.Request{
		{Key: mt, Record: rec(1, 10*time.Millisecond)}, {Key: mt, Record: rec(2, 3*time.Millisecond)},
		{Key: mt, Record: rec(3, 5*time.Millisecond)}, {Key: plain, Record: rec(0, time.Millisecond)},
	}
	sums := report.Recompute(reqs, loadgen.SLO{}, nil)
	require.Len(t, sums, 2)
	by := sums[0].Summary.TTFTByTurn
	require.Len(t, by, 3)
	for k, want := range []time.Duration{10 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond} {
		assert.Equal(t, k+1, by[k].Turn)
		assert.Equal(t, float64(want), by[k].P50, "turn %d", k+1)
	}
	assert.Nil(t, sums[1].Summary.TTFTByTurn)
	assert.Nil(t, sums[1].Summary.TTFTTurn1)
}
