package infbench_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
)

func TestSuiteCells(t *testing.T) {
	env := map[string]string{"INFBENCH_CONCURRENCY": "2,8", "INFBENCH_PROMPTS": "code,short", "INFBENCH_MAX_TOKENS": "12"}
	s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []string{"code", "short"}, s.Workloads())
	c := s.Cell("sim", 8, "code")
	assert.Equal(t, "engine=sim/conc=8/workload=code", c.Name())
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

func TestSuiteRateCells(t *testing.T) {
	env := map[string]string{"INFBENCH_RATES": "2.5,40", "INFBENCH_PROMPTS": "short"}
	s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []float64{2.5, 40}, s.Run.Rates)
	c := s.RateCell("sim", 2.5, "short")
	assert.Equal(t, "engine=sim/rate=2.5/workload=short", c.Name())
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

func TestSuiteWorkloads(t *testing.T) {
	env := map[string]string{"INFBENCH_CONCURRENCY": "2", "INFBENCH_RATES": "4"}
	s, err := infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []string{"short", "medium", "long", "code"}, s.Workloads(), "the prompt categories by default")

	env["INFBENCH_WORKLOADS"] = "short,chat-sample,synth-lognormal,prefix-4x512,chat-3turn"
	s, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []string{"short", "chat-sample", "synth-lognormal", "prefix-4x512", "chat-3turn"}, s.Workloads())
	c := s.Cell("sim", 2, "chat-sample")
	assert.Equal(t, "engine=sim/conc=2/workload=chat-sample", c.Name())
	require.NotNil(t, c.Source)
	assert.Nil(t, s.Cell("sim", 2, "short").Source, "a category keeps Prompts and MaxTokens")

	m := s.Matrix("sim")
	require.Len(t, m, 2)
	assert.Len(t, m[0].Cells, 5)
	assert.Len(t, m[1].Cells, 4, "the rate level leaves out the multi_turn workload")
	for _, cl := range m[1].Cells {
		assert.NotEqual(t, "chat-3turn", cl.Workload)
	}
	assert.Equal(t, []string{"workload chat-3turn is multi_turn: its rate cells (4 requests/s) are skipped, it runs in a closed loop only"}, s.Notes())

	// A capacity search offers open-loop rates: the multi_turn workload
	// has none, and Notes says so.
	env["INFBENCH_SWEEP"] = "1"
	s, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, []string{"short", "chat-sample", "synth-lognormal", "prefix-4x512"}, s.SweepWorkloads())
	assert.Contains(t, s.Notes(), "workload chat-3turn is multi_turn: it has no capacity search (the search offers open-loop rates), it runs in a closed loop only")
	delete(env, "INFBENCH_SWEEP")
	s, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	require.NoError(t, err)

	// The fit check's longest sequence is the synthetic workload's: its
	// lognormal input's 99.99th percentile (1328) + 96 output + 32, above
	// the shared prefix's 512 + 64 + 64 + 32 and the conversation's.
	assert.Equal(t, 1456, s.Workload().TokensPerSeq)
	assert.Equal(t, 672, s.Cell("", 1, "prefix-4x512").Src().MaxSeqTokens())

	lines := map[string]string{}
	for _, l := range s.ConfigLines() {
		lines[l.Key] = l.Value
	}
	assert.Contains(t, lines["workload-chat-sample"], "dataset workloads/sharegpt-sample.json (sharegpt, sha256 ")
	assert.Contains(t, lines["workload-chat-sample"], "sample 16")
	assert.Equal(t, "synthetic: input lognormal mean 256 std 128, output uniform 32..96 tokens", lines["workload-synth-lognormal"])
	assert.Contains(t, lines["workload-chat-3turn"], "multi_turn: 3 turns, think time 100ms")
	assert.Equal(t, "64", lines["prompt-short-max-tokens"])

	env["INFBENCH_WORKLOADS"] = "short,nope"
	_, err = infbench.Load(runFile, promptsFile, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, `workload "nope" (from testdata/engines.yaml or INFBENCH_WORKLOADS) is neither a prompt category`)
}
