package infbench_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/benchtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// A pattern naming an engine this build does not run, or none at all,
// and any -benchtime but 1x are refused before anything starts: exit
// status 2, the engines that exist and how to get the one named, and no
// results folder.
func TestRunsThatCannotMeasureAreRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	noFolder := resultsdir.EnvDir + "=" + dir
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"container engine without -tags=gpu", []string{"-test.bench=Serve/engine=vllm"},
			[]string{"-bench=Serve/engine=vllm selects vllm, container engines that run only with -tags=gpu: go test -tags=gpu -run='^$' -bench='Serve/engine=vllm' -timeout 0 . (this build runs: sim)"}},
		{"engines by alternation", []string{"-test.bench=Serve/engine=(sglang|trtllm)"}, []string{"selects sglang, trtllm, container engines"}},
		{"engine not in engines.yaml", []string{"-test.bench=Serve/engine=tgi"},
			[]string{"-bench=Serve/engine=tgi selects no engine of testdata/engines.yaml: it has sim, vllm, sglang, trtllm, and this build runs sim"}},
		{"-benchtime=2s", []string{"-test.bench=.", "-test.benchtime=2s"},
			[]string{"-benchtime=2s: a cell sizes itself", "use -benchtime=1x"}},
		{"-benchtime=10x", []string{"-test.bench=Serve", "-test.benchtime=10x"}, []string{"-benchtime=10x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := benchtest.Run(t, os.Args[0], []string{noFolder}, tc.args...)
			assert.Equal(t, 2, r.Code)
			for _, w := range tc.want {
				assert.Contains(t, r.Stderr, w)
			}
			assert.NotContains(t, r.Stderr, "starting engine")
			assert.NoDirExists(t, dir)
		})
	}
}

// A pattern that selects an engine but no cell runs nothing: the run
// says so, fails, and leaves no results folder.
func TestRunThatMeasuredNothingFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], []string{resultsdir.EnvDir + "=" + dir}, "-test.bench=Serve/engine=sim/conc=7")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "the run measured nothing: -bench=Serve/engine=sim/conc=7 selects no cell of testdata/engines.yaml (cells are engine=sim, conc=2, workload=short)")
	assert.NoDirExists(t, dir)
}

// A server that sends headers and then nothing: a cell of 20 requests at
// concurrency 4 stops when its first 4 requests have stalled, within 2
// stall timeouts as the server saw it (without the rule: 6, warmup
// included), naming the stall; the run exits non-zero and says which cell
// failed.
func TestStalledCellStopsAndFailsTheRun(t *testing.T) {
	const stall = 2 * time.Second
	srv := benchtest.NewStallServer(t)
	r := benchtest.Run(t, os.Args[0], []string{"INFBENCH_TARGET=" + srv.URL, "INFBENCH_MODEL=m", "INFBENCH_CONCURRENCY=4",
		"INFBENCH_REQUESTS=20", "INFBENCH_STALL_TIMEOUT=" + stall.String()}, "-test.bench=.")
	assert.Equal(t, 1, r.Code)
	const why = "stopped early: the first 4 requests to finish all failed with stall (no event for 2s (stall timeout))"
	assert.Contains(t, r.Stdout, "--- FAIL: BenchmarkServe/engine=external/conc=4/workload=short")
	assert.Contains(t, r.Stdout, why)
	assert.Contains(t, r.Stderr, "[infbench] FAIL: 1 of 1 cells failed")
	assert.Contains(t, r.Stderr, "engine=external/conc=4/workload=short: "+why)
	took := srv.Span()
	t.Logf("the server saw %d requests over %v", srv.Requests.Load(), took)
	assert.LessOrEqual(t, srv.Requests.Load(), int64(8), "requests sent: the first 4 and at most one more per slot")
	assert.Less(t, took, 2*stall, "first request to the last connection closed")
}

// A cell with more failures than max_error_rate prints its benchmark line
// and writes its summary, and then the run fails, naming the cell and its
// errors; INFBENCH_MAX_ERROR_RATE raises the limit.
func TestCellAboveMaxErrorRateFailsTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engine := sim.New(sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	go engine.Run(ctx)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every second completion fails, from the second one: the first
		// two to finish are not all failures, so the cell runs to its end.
		if r.URL.Path != "/v1/models" && n.Add(1)%2 == 0 {
			http.Error(w, `{"message":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		engine.ServeHTTP(w, r)
	}))
	defer srv.Close()
	env := []string{"INFBENCH_TARGET=" + srv.URL, "INFBENCH_MODEL=m", "INFBENCH_REQUESTS=8"}
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], append(env, resultsdir.EnvDir+"="+dir), "-test.bench=.")
	assert.Equal(t, 1, r.Code)
	assert.Regexp(t, `(?m)^BenchmarkServe/engine=external/conc=2/workload=short-\d+\s+1\s.* err-%`, r.Stdout, "the benchmark line is printed")
	assert.Contains(t, r.Stderr, "[infbench] FAIL: 1 of 1 cells failed (max_error_rate 0.01, INFBENCH_MAX_ERROR_RATE to change it)")
	assert.Regexp(t, `engine=external/conc=2/workload=short: [34] of 8 requests failed \(\d+\.\d%\): http [34]; first: http: HTTP 503: overloaded`, r.Stderr)
	sums, err := resultsdir.ReadSummaries(dir)
	require.NoError(t, err)
	require.Len(t, sums.Cells, 1)
	assert.Greater(t, sums.Cells[0].Summary.ErrorRate, 0.3)

	n.Store(0)
	r = benchtest.Run(t, os.Args[0], append(env, "INFBENCH_MAX_ERROR_RATE=0.6"), "-test.bench=.")
	assert.Equal(t, 0, r.Code)
	assert.NotContains(t, r.Stderr, "FAIL")
}

// Every engine at a rate and repetition is offered the same arrivals
// (from the run seed, the rate and the repetition), and the next
// repetition others.
func TestOpenLoopSameScheduleForEveryEngine(t *testing.T) {
	l, err := sim.Listen(t.Context(), "127.0.0.1:0", sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	require.NoError(t, err)
	defer l.Close()
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "m", IgnoreEOS: true, IncludeUsage: true}, 64)
	require.NoError(t, err)
	defer c.Close()
	salts := cell.NewSalter(0x5eed)
	schedule := func(engine string, rep int) []time.Duration {
		cl := cell.Cell{Engine: engine, Rate: 200, MaxInFlight: 64, Workload: "short", Prompts: []string{"A"},
			MaxTokens: 2, Requests: 20, Warmup: 2, Seed: 0x5eed, Rep: rep}
		recs, _, err := cell.Run(t.Context(), c, cl, salts, nil, nil)
		require.NoError(t, err)
		out := make([]time.Duration, len(recs))
		for i, r := range recs {
			out[i] = r.Scheduled
		}
		return out
	}
	a0, b0, a1 := schedule("a", 0), schedule("b", 0), schedule("a", 1)
	assert.Equal(t, a0, b0, "engines a and b at rate 200, repetition 0")
	assert.NotEqual(t, a0, a1, "repetitions 0 and 1")
	assert.Len(t, a0, 22)
}
