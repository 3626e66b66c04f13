package workload_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// prefixHitRate runs 2 sessions of a 4-turn workload (100 tokens in, 100
// out per turn) at concurrency 1 on a fresh simulator over api, and
// returns the simulator's prefix-cache hits over queries.
func prefixHitRate(t *testing.T, api loadgen.API) float64 {
	t.Helper()
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	client, err := loadgen.NewClient(loadgen.Target{BaseURL: url, Model: "m", API: api, IgnoreEOS: true, IncludeUsage: true}, 1)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 4,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 100}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 100}}, "")
	require.NoError(t, err)
	cl := cell.Cell{Engine: "sim", Concurrency: 1, Workload: "mt", Source: src, Requests: 8, Seed: 5}
	_, sum, err := cell.Run(context.Background(), client, cl, cell.NewSalter(5), nil, nil)
	require.NoError(t, err)
	require.Equal(t, 8, sum.Completed)

	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	vals := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			v, err := strconv.ParseFloat(f[1], 64)
			require.NoError(t, err, sc.Text())
			vals[f[0]] = v
		}
	}
	require.NoError(t, sc.Err())
	q, h := vals["sim:prefix_cache_queries_total"], vals["sim:prefix_cache_hits_total"]
	require.Positive(t, q)
	return h / q
}

// On the completions API, turn k+1's prompt extends turn k's prompt with
// its answer exactly as generated, so the engine's cached prompt+output
// blocks match it as far as they do on chat: the two hit rates are close.
func TestMultiTurnCompletionsPrefixHitsMatchChat(t *testing.T) {
	chat := prefixHitRate(t, loadgen.Chat)
	comp := prefixHitRate(t, loadgen.Completions)
	t.Logf("prefix-cache hit rate: chat %.3f, completions %.3f", chat, comp)
	assert.Positive(t, chat)
	assert.InDelta(t, chat, comp, 0.05, "completions' hit rate should be close to chat's")
}
