package infbench_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
)

func TestSuiteCells(t *testing.T) {
	env := map[string]string{"INFBENCH_CONCURRENCY": "2,8", "INFBENCH_PROMPTS": "code,short", "INFBENCH_MAX_TOKENS": "12"}
	s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []string{"code", "short"}, s.Categories())
	c := s.Cell("sim", 8, "code")
	assert.Equal(t, "engine=sim/conc=8/prompt=code", c.Name())
	assert.Equal(t, 12, c.MaxTokens, "INFBENCH_MAX_TOKENS overrides the category")
	assert.Equal(t, 32, c.Requests, "4 × concurrency")
	assert.Equal(t, 8, c.Warmup, "one per slot")
	assert.Len(t, c.Prompts, 4)
	assert.NotZero(t, s.Seed, "seed 0 in engines.yaml means a random one")

	env["INFBENCH_PROMPTS"] = "tiny"
	_, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, `prompt category "tiny"`)
	assert.ErrorContains(t, err, "use short, medium, long, code")
}

// promptLog collects the prompts a cell sends.
type promptLog struct {
	mu      sync.Mutex
	prompts []string
}

func TestRunCellSaltsEveryPromptAndFailsWhenAllFail(t *testing.T) {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0", sim.Config{Model: "m",
		Timing: sim.Linear{Base: time.Millisecond}})
	require.NoError(t, err)
	defer l.Close()

	var log promptLog
	salts := infbench.NewSalter(0xabc)
	cell := infbench.Cell{Engine: "sim", Concurrency: 3, Category: "short", Prompts: []string{"A", "B"},
		MaxTokens: 4, Requests: 9, Warmup: 3}
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "m", IgnoreEOS: true, IncludeUsage: true}, 3)
	require.NoError(t, err)
	defer c.Close()
	recs, sum, err := infbench.RunCell(context.Background(), doerFunc(func(ctx context.Context, r loadgen.Request, e time.Time) loadgen.Record {
		log.mu.Lock()
		log.prompts = append(log.prompts, r.Prompt)
		log.mu.Unlock()
		return c.Do(ctx, r, e)
	}), cell, salts, nil, nil)
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
	bad, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "nope"}, 3)
	require.NoError(t, err)
	defer bad.Close()
	var progress strings.Builder
	recs, sum, err = infbench.RunCell(context.Background(), bad, cell, salts, nil, &progress)
	require.ErrorIs(t, err, loadgen.ErrHopeless)
	const why = "stopped early: the first 3 requests to finish all failed with http 4xx (HTTP 404: The model `nope` does not exist.)"
	assert.Contains(t, err.Error(), "cell engine=sim/conc=3/prompt=short: "+why)
	assert.Contains(t, sum.Flags, why+": fix the server or the target and rerun")
	assert.Less(t, len(recs), 12, "requests sent before the cell stopped")
	assert.Contains(t, progress.String(), "[infbench] engine=sim/conc=3/prompt=short: 9 requests (+3 warmup) at concurrency 3\n", "a line when the cell starts")
	assert.Contains(t, progress.String(), why)

	// With the rule off every request runs, fails, and so does the cell.
	cell.GiveUpAfter = -1
	_, sum, err = infbench.RunCell(context.Background(), bad, cell, salts, nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "all 9 requests failed")
	assert.InDelta(t, 1.0, sum.ErrorRate, 0)
}

type doerFunc func(context.Context, loadgen.Request, time.Time) loadgen.Record

func (f doerFunc) Do(ctx context.Context, r loadgen.Request, e time.Time) loadgen.Record {
	return f(ctx, r, e)
}

func TestSuiteRateCells(t *testing.T) {
	env := map[string]string{"INFBENCH_RATES": "2.5,40", "INFBENCH_PROMPTS": "short"}
	s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []float64{2.5, 40}, s.Run.Rates)
	c := s.RateCell("sim", 2.5, "short")
	assert.Equal(t, "engine=sim/rate=2.5/prompt=short", c.Name())
	assert.Equal(t, 200, c.Requests, "rate_requests default")
	assert.Equal(t, 3, c.Warmup, "one second of arrivals")
	assert.Equal(t, 1024, c.Conns())
	assert.Zero(t, c.Concurrency)

	env["INFBENCH_REQUESTS"] = "7"
	s, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, 7, s.RateCell("sim", 40, "short").Requests)

	env["INFBENCH_RATES"] = "2,fast"
	_, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, `INFBENCH_RATES="2,fast": "fast" is not a positive rate`)
}

// An open-loop cell the client cannot keep up with (one request in flight
// at a time against a slow engine) says so, and its latency from the
// schedule shows the queue. The bounds only get easier on a busy machine:
// each request takes at least five 10 ms steps (prefill and 4 tokens), so
// at most 20 of the 50 due each second can be sent.
func TestRunCellOpenLoopHeldBack(t *testing.T) {
	l, err := sim.Listen(context.Background(), "127.0.0.1:0", sim.Config{Model: "m",
		Timing: sim.Linear{Base: 10 * time.Millisecond}})
	require.NoError(t, err)
	defer l.Close()
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "m", IgnoreEOS: true, IncludeUsage: true}, 1)
	require.NoError(t, err)
	defer c.Close()
	cell := infbench.Cell{Engine: "sim", Rate: 50, MaxInFlight: 1, Category: "short", Prompts: []string{"A"},
		MaxTokens: 4, Requests: 40, Warmup: 1}
	_, sum, err := infbench.RunCell(context.Background(), c, cell, infbench.NewSalter(1), nil, nil)
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
