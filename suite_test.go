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
