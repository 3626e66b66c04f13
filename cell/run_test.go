package cell_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
)

// promptLog collects the prompts a cell sends.
type promptLog struct {
	mu      sync.Mutex
	prompts []string
}

func TestRunSaltsEveryPromptAndFailsWhenAllFail(t *testing.T) {
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})

	var log promptLog
	salts := cell.NewSalter(0xabc)
	cl := cell.Cell{Engine: "sim", Concurrency: 3, Workload: "short", Prompts: []string{"A", "B"},
		MaxTokens: 4, Requests: 9, Warmup: 3}
	c := simtest.Client(t, url, "m", 3)
	recs, sum, err := cell.Run(context.Background(), doerFunc(func(ctx context.Context, r loadgen.Request, e time.Time) loadgen.Record {
		log.mu.Lock()
		log.prompts = append(log.prompts, r.Prompt)
		log.mu.Unlock()
		return c.Do(ctx, r, e)
	}), cl, salts, nil, nil)
	require.NoError(t, err)
	assert.Len(t, recs, 12)
	assert.Equal(t, 9, sum.Completed)
	assert.Equal(t, 36, sum.OutputTokens)
	seen := map[string]bool{}
	for _, p := range log.prompts {
		first, _, _ := strings.Cut(p, "\n")
		assert.False(t, seen[first], "salt %q reused: a prefix cache could serve it", first)
		seen[first] = true
		assert.True(t, strings.HasPrefix(p, "[infbench abc-"), p)
	}

	// A wrong model name: the first 3 requests to finish fail alike, so
	// the cell stops there, with the reason, in its error and its flags.
	bad := simtest.Client(t, url, "nope", 3)
	var progress strings.Builder
	recs, sum, err = cell.Run(context.Background(), bad, cl, salts, nil, &progress)
	require.ErrorIs(t, err, loadgen.ErrHopeless)
	const why = "stopped early: the first 3 requests to finish all failed with http 4xx (HTTP 404: The model `nope` does not exist.)"
	assert.Contains(t, err.Error(), "cell engine=sim/conc=3/workload=short: "+why)
	assert.Contains(t, sum.Flags, why+": fix the server or the target and rerun")
	assert.Less(t, len(recs), 12, "requests sent before the cell stopped")
	assert.Contains(t, progress.String(), "[infbench] engine=sim/conc=3/workload=short: 9 requests (+3 warmup) at concurrency 3\n", "a line when the cell starts")
	assert.Contains(t, progress.String(), why)

	// With the rule off every request runs, fails, and so does the cell.
	cl.GiveUpAfter = -1
	_, sum, err = cell.Run(context.Background(), bad, cl, salts, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "all 9 requests failed")
	assert.InDelta(t, 1.0, sum.ErrorRate, 0)
}

type doerFunc func(context.Context, loadgen.Request, time.Time) loadgen.Record

func (f doerFunc) Do(ctx context.Context, r loadgen.Request, e time.Time) loadgen.Record {
	return f(ctx, r, e)
}

// An open-loop cell the client cannot keep up with (one request in flight
// at a time against a slow engine) says so, and its latency from the
// schedule shows the queue. The bounds only get easier on a busy machine:
// each request takes at least five 10 ms steps (prefill and 4 tokens), so
// at most 20 of the 50 due each second can be sent.
func TestRunOpenLoopHeldBack(t *testing.T) {
	c := simtest.Client(t, simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: 10 * time.Millisecond}}), "m", 1)
	cl := cell.Cell{Engine: "sim", Rate: 50, MaxInFlight: 1, Workload: "short", Prompts: []string{"A"},
		MaxTokens: 4, Requests: 40, Warmup: 1}
	_, sum, err := cell.Run(context.Background(), c, cl, cell.NewSalter(1), nil, nil)
	require.NoError(t, err)
	assert.True(t, sum.Paced)
	assert.Less(t, sum.SentReqPerSec, 26.0, "~20 requests/s served at 50 ms each")
	assert.Greater(t, sum.TTFTFromSchedule.P50, 2*sum.TTFT.P50)
	found := false
	for _, f := range sum.Flags {
		found = found || strings.Contains(f, "the load was held back")
	}
	assert.True(t, found, "flags: %v", sum.Flags)
}
