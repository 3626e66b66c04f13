package infbench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/internal/benchtest"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/sweep"
)

// Acceptance: the capacity the search finds on the simulator lies within
// 10 % of the capacity its timing model gives, in at most 12 probes.
//
// The simulator (engines/sim/scheduler.go) runs steps of
// step_base + per_sequence × (sequences decoding) + per_prefill_token ×
// (prompt tokens prefilled); every running sequence emits one token per
// step, the step that finishes its prefill included (and it is charged
// per_prefill_token × P there, not per_sequence); a finished sequence
// leaves at once and a waiting one takes its slot at the next step. At
// saturation the batch stays full at B = max_batch, so a request of O
// output tokens holds a slot for O steps, and over many requests each
// costs O/B steps' step_base, (O − 1) × per_sequence and P ×
// per_prefill_token:
//
//	λmax = 1 / (O·step_base/B + (O−1)·per_sequence + P·per_prefill_token)
//
// Here B = 64, O = 32, step_base 20 ms, per_sequence 450 µs,
// per_prefill_token 20 µs and P ≈ 37.5 (the short prompts, their salt
// and the chat template's 8 tokens; the mean the server reported is
// used, ≈ 39.5 where the run's salt seed has 16 hex digits): 10 ms + 13.95 ms + 0.75 ms ≈ 24.7 ms, ≈ 40.5 requests/s
// (per_context_token is 0 here; the formula leaves it out). A full-batch step
// is 48.8 ms, so TPOT ≈ 49 ms (bound 100 ms: it never binds) and an
// unqueued TTFT is one to two steps (≈ 60–95 ms). Below λmax the batch
// has free slots and nothing waits; above it the queue grows by
// (λ − λmax) requests each second, so the TTFT bound of 250 ms binds right
// at saturation: at 5 % over for a 300-request probe (7 s) the last
// requests wait ≈ 0.35 s. Arrivals are gamma with shape 16 (burstiness:
// 16, CV 0.25): with Poisson arrivals the queue's random walk over a
// probe of N requests blurs the knee by about 1/√N, and the found rate
// would sit anywhere from 10 % below to 10 % above λmax (a discrete-event
// model of this scheduler says so; README "Capacity under SLO").
// Doubling from 16 brackets λmax in [32, 64]; four bisections narrow it
// below 5 %: 7–8 probes.
func TestSweepFindsSimulatorCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("a capacity search of about 8 probes, about 90 s")
	}
	const (
		batch   = 64
		out     = 32
		base    = 20 * time.Millisecond
		perSeq  = 450 * time.Microsecond
		perTok  = 20 * time.Microsecond
		maxCell = 12
	)
	_, x, results := benchtest.SimEngine(t, promptsFile, fmt.Sprintf(`      max_batch: %d
      timing: {step_base: %v, per_sequence: %v, per_prefill_token: %v}`, batch, base, perSeq, perTok),
		fmt.Sprintf(`max_tokens: %d
burstiness: 16
slo: {ttft: 250ms, tpot: 100ms}
sweep: {enabled: true, start: 16, factor: 2, resolution: 0.05, max_cells: %d, requests: 300}`, out, maxCell))
	res, err := x.Sweep(t.Context(), benchtest.Bench{T: t}, "short")
	require.NoError(t, err)

	sums, err := resultsdir.ReadSummaries(results)
	require.NoError(t, err)
	prompt, completed := 0, 0
	for _, c := range sums.Cells {
		prompt += c.Summary.PromptTokens
		completed += c.Summary.Completed
	}
	require.NotZero(t, completed)
	p := float64(prompt) / float64(completed)
	perReq := float64(out)*base.Seconds()/batch + float64(out-1)*perSeq.Seconds() + p*perTok.Seconds()
	lambda := 1 / perReq
	found := res.Search.Capacity
	t.Logf("model: P = %.1f prompt tokens, %.2f ms per request, capacity %.2f requests/s; search: %g requests/s (bracket %g–%g) in %d probes, stopped %s",
		p, 1e3*perReq, lambda, found, res.Search.Lo, res.Search.Hi, len(res.Search.Probes), res.Search.Stopped)
	for _, pr := range res.Search.Probes {
		t.Logf("  %g requests/s: pass %v: %s", pr.Rate, pr.Pass, pr.Why())
	}
	if raceEnabled {
		// The race detector multiplies the client's and the simulator's
		// CPU cost: next to a busy loop they fell behind the schedule at
		// 16.7 requests/s (the model's 40.5). A starved machine can only
		// lower the capacity found, never raise it.
		t.Log("under -race the machine, not the model, bounds the capacity: only its upper bound is checked")
		assert.LessOrEqual(t, found, 1.10*lambda, "slo-max-req/s %g vs the model's %.2f", found, lambda)
	} else {
		assert.InEpsilon(t, lambda, found, 0.10, "slo-max-req/s %g vs the model's %.2f", found, lambda)
	}
	assert.LessOrEqual(t, len(res.Search.Probes), maxCell)
	assert.Equal(t, sweep.StopResolution, res.Search.Stopped)
	assert.Greater(t, res.Search.Hi, found, "a fail above the capacity found")

	// The metrics of the benchmark line, and sweep.json.
	units := map[string]float64{}
	for _, m := range res.Metrics {
		units[m.Unit] = m.Value
	}
	assert.Equal(t, map[string]float64{infbench.UnitSLOMax: found, infbench.UnitGoodput: res.Search.Goodput,
		infbench.UnitSweepCells: float64(len(res.Search.Probes))}, units)
	// Goodput is good requests / duration, and a probe's duration runs to
	// its last completion: a 7.5 s probe plus ≈ 1.6 s for the last
	// requests' 32 tokens.
	assert.Greater(t, res.Search.Goodput, 0.7*found, "goodput at the capacity")
	assert.LessOrEqual(t, res.Search.Goodput, found)
	sw, err := resultsdir.ReadSweeps(results)
	require.NoError(t, err)
	require.Len(t, sw.Sweeps, 1)
	assert.Equal(t, res.Record, sw.Sweeps[0])
	rec := sw.Sweeps[0]
	assert.Equal(t, resultsdir.Sweep{Engine: "sim", Workload: "short", Rep: 0, Capacity: found, Goodput: res.Search.Goodput,
		Lo: res.Search.Lo, Hi: res.Search.Hi, Resolution: 0.05, MaxCells: maxCell,
		TTFTP99: int64(250 * time.Millisecond), TPOTP99: int64(100 * time.Millisecond), MaxErrorRate: 0.01,
		Stopped: "resolution", Probes: rec.Probes}, rec)
	// Every probe is a cell of summary.json, in order.
	require.Len(t, rec.Probes, len(res.Search.Probes))
	require.Len(t, sums.Cells, len(rec.Probes))
	for i, pr := range rec.Probes {
		assert.Equal(t, sums.Cells[i].Key, pr.Key)
		assert.Equal(t, fmt.Sprintf("engine=sim/rate=%g/workload=short", res.Search.Probes[i].Rate), pr.Cell)
		assert.Equal(t, 300, sums.Cells[i].Summary.Requests, "sweep.requests")
		assert.Equal(t, res.Search.Probes[i].Pass, pr.Pass)
		if !pr.Pass {
			assert.Contains(t, pr.Why, "TTFT from schedule p99", "the TTFT bound binds, not TPOT or errors")
			assert.Contains(t, pr.Why, "> 250ms")
		} else {
			assert.Empty(t, pr.Why)
		}
	}
}

// The TPOT bound: every step of this simulator takes at least 10 ms, so
// no request's TPOT p99 meets a 5 ms bound and every probe fails on it,
// with the measured value.
func TestSweepTPOTBound(t *testing.T) {
	_, x, _ := benchtest.SimEngine(t, promptsFile, `      max_batch: 64
      timing: {step_base: 10ms, per_sequence: 10us}`, `max_tokens: 8
slo: {ttft: 1s, tpot: 5ms}
sweep: {enabled: true, start: 100, max_cells: 1, requests: 100}`)
	res, err := x.Sweep(t.Context(), benchtest.Bench{T: t}, "short")
	require.NoError(t, err)
	require.Len(t, res.Search.Probes, 1)
	p := res.Search.Probes[0]
	assert.False(t, p.Pass)
	assert.Equal(t, "tpot_p99", p.Bound)
	assert.Equal(t, float64(5*time.Millisecond), p.Limit)
	assert.GreaterOrEqual(t, p.Value, float64(10*time.Millisecond))
	assert.Regexp(t, `^errors 0\.0% ≤ 1%, TTFT from schedule p99 [0-9.]+ms ≤ 1s, TPOT p99 1[0-9.]+ms > 5ms$`, p.Why())
	assert.Equal(t, sweep.StopNoPass, res.Search.Stopped)
	assert.Zero(t, res.Search.Capacity)
}

// sweep.start 0 starts at the highest req/s of the engine's closed-loop
// cells of the workload measured before; without one the search refuses,
// saying how to fix it.
func TestSweepStartsFromTheMatrix(t *testing.T) {
	s, x, _ := benchtest.SimEngine(t, promptsFile, `      max_batch: 64
      timing: {step_base: 2ms, per_sequence: 10us}`, `max_tokens: 4
slo: {ttft: 1s, tpot: 100ms}
sweep: {enabled: true, max_cells: 1, requests: 100}`)
	_, err := x.Sweep(t.Context(), benchtest.Bench{T: t}, "short")
	require.ErrorContains(t, err, "engine=sim/sweep=slo/workload=short: sweep.start is 0, which starts the search at the highest req/s of the engine's closed-loop cells of workload short, and none ran")
	assert.ErrorContains(t, err, "INFBENCH_SWEEP=start=8")

	m, err := x.Measure(t.Context(), benchtest.Bench{T: t}, s.Cell("sim", 8, "short"))
	require.NoError(t, err)
	res, err := x.Sweep(t.Context(), benchtest.Bench{T: t}, "short")
	require.NoError(t, err)
	require.Len(t, res.Search.Probes, 1, "max_cells 1")
	r := m.Summary.ReqPerSec
	assert.InEpsilon(t, r, res.Search.Probes[0].Rate, 0.005, "the closed-loop req/s %g, to 3 digits", r)
	assert.Equal(t, strconv.FormatFloat(r, 'g', 3, 64), strconv.FormatFloat(res.Search.Probes[0].Rate, 'g', -1, 64))
	assert.True(t, strings.HasPrefix(res.Record.Probes[0].Cell, "engine=sim/rate="))
}

// A probe that fails more than max_error_rate of its requests is a fail
// of its search and does not fail the run: against a server that fails
// every second completion, every probe fails on the error rate, the
// search finds no passing rate, the benchmark line reports
// slo-max-req/s 0, and the run exits 0; a closed-loop cell against the
// same server still fails it.
func TestSweepProbesDoNotFailTheRun(t *testing.T) {
	srv := benchtest.HalfFailing(t)
	env := []string{"INFBENCH_TARGET=" + srv.URL, "INFBENCH_MODEL=m", "INFBENCH_SWEEP=start=20,max_cells=2"}
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], append(env, resultsdir.EnvDir+"="+dir), "-test.bench=Serve/engine=external/sweep=slo")
	assert.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stdout, "infbench-sweep: start 20, factor 2, resolution 0.05, max_cells 2, min_rate start/10, max_rate 0, requests rate cells'; bounds: error rate <= 0.01, ttft p99 <= 1s, tpot p99 <= 50ms")
	assert.Regexp(t, `(?m)^BenchmarkServe/engine=external/sweep=slo/workload=short-\d+\s+1\s+0 goodput-req/s\s+0 slo-max-req/s\s+2\.000 sweep-cells$`, r.Stdout)
	assert.Contains(t, r.Stderr, "probe 1 at 20 requests/s: fail: errors ")
	assert.Contains(t, r.Stderr, "probe 2 at 10 requests/s: fail: errors ")
	assert.Contains(t, r.Stderr, "no probed rate met every bound")
	assert.Contains(t, r.Stderr, "[infbench] 2 capacity-search probes stopped early or failed more than max_error_rate of their requests: expected of a search, they count as fails there and do not fail the run")
	assert.NotContains(t, r.Stderr, "the run will fail")
	assert.NotContains(t, r.Stderr, "FAIL")
	sw, err := resultsdir.ReadSweeps(dir)
	require.NoError(t, err)
	require.Len(t, sw.Sweeps, 1)
	got := sw.Sweeps[0]
	assert.Equal(t, "no_pass", got.Stopped)
	assert.Zero(t, got.Capacity)
	require.Len(t, got.Probes, 2)
	for i, rate := range []float64{20, 10} {
		p := got.Probes[i]
		assert.Equal(t, fmt.Sprintf("engine=external/rate=%g/workload=short", rate), p.Cell)
		assert.False(t, p.Pass)
		assert.Regexp(t, `^errors [0-9.]+% > 1%, TTFT from schedule p99 .* \(p99 of [0-9] samples: flagged, about the largest\), TPOT p99 `, p.Why)
	}

	// The same server fails a matrix cell, and the run with it.
	r = benchtest.Run(t, os.Args[0], env, "-test.bench=Serve/engine=external/(conc=2|sweep=slo)")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "[infbench] FAIL: 1 of 3 cells failed")
	assert.Contains(t, r.Stderr, "[infbench]   engine=external/conc=2/workload=short: ")
	assert.NotContains(t, r.Stderr, "[infbench]   engine=external/rate=")
}

// A probe stopped by the give-up rule (a server that stalls) is a fail on
// the error rate, and does not fail the run either.
func TestSweepGiveUpIsAFail(t *testing.T) {
	srv := benchtest.NewStallServer(t)
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], []string{"INFBENCH_TARGET=" + srv.URL, "INFBENCH_MODEL=m", "INFBENCH_SWEEP=start=20,max_cells=1",
		"INFBENCH_STALL_TIMEOUT=1s", resultsdir.EnvDir + "=" + dir}, "-test.bench=Serve/engine=external/sweep=slo")
	assert.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "probe 1 at 20 requests/s: fail: errors: stopped early: the first 8 requests to finish all failed with stall")
	sw, err := resultsdir.ReadSweeps(dir)
	require.NoError(t, err)
	require.Len(t, sw.Sweeps, 1)
	require.Len(t, sw.Sweeps[0].Probes, 1)
	assert.Contains(t, sw.Sweeps[0].Probes[0].Why, "(the give-up rule: a fail)")
	assert.Equal(t, "no_pass", sw.Sweeps[0].Stopped)
}

// A pattern naming the sweep while it is off measures nothing and says
// how to turn it on.
func TestSweepPatternWhileOff(t *testing.T) {
	r := benchtest.Run(t, os.Args[0], nil, "-test.bench=Serve/engine=sim/sweep=slo")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "the run measured nothing")
	assert.Contains(t, r.Stderr, "sweep=slo cells run only when the capacity search is on: sweep.enabled in testdata/engines.yaml, or INFBENCH_SWEEP=1")
}
