package infbench_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/benchtest"
	"github.com/infbench/infbench/resultsdir"
)

// A simulator cell's benchmark line and summary.json carry the
// simulator's own metrics: as many running as the cell's concurrency,
// none waiting, no preemption, no prefix-cache hit, and no flag below
// its batch limit.
func TestSimulatorCellCarriesServerMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], []string{resultsdir.EnvDir + "=" + dir, "INFBENCH_REQUESTS=40", "INFBENCH_MAX_TOKENS=32"},
		"-test.bench=Serve/engine=sim")
	require.Equal(t, 0, r.Code)
	line := regexp.MustCompile(`(?m)^BenchmarkServe/engine=sim/conc=2/workload=short-\d+\s.*$`).FindString(r.Stdout)
	require.NotEmpty(t, line, "the benchmark line")
	assert.Regexp(t, `\s2\.000 server-running-max\s`, line)
	assert.Regexp(t, `\s0 server-waiting-max\s`, line)
	assert.Regexp(t, `\s0 preemptions\s`, line)
	assert.NotContains(t, line, "kv-usage-peak-%", "the simulator exports no KV usage")
	assert.Regexp(t, `\s0 prefix-hit-%`, line, "salted prompts never hit the simulator's prefix cache")

	sums, err := resultsdir.ReadSummaries(dir)
	require.NoError(t, err)
	require.Len(t, sums.Cells, 1)
	s := sums.Cells[0].Server
	require.NotNil(t, s)
	assert.Equal(t, "sim", s.Engine)
	assert.Positive(t, s.Scrapes)
	assert.Equal(t, 2.0, s.Running.Max)
	assert.Equal(t, 64.0, *s.MaxBatch, "engines.yaml's sim max_batch")
	assert.Empty(t, s.Flags)
}

// An engine without a metrics endpoint (a server given by INFBENCH_TARGET)
// runs its cells anyway, without server metrics, and stderr says why
// once, not once a cell.
func TestEngineWithoutMetricsRunsAndSaysSoOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engine := sim.New(sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	go engine.Run(ctx)
	srv := httptest.NewServer(engine)
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "results")
	r := benchtest.Run(t, os.Args[0], []string{"INFBENCH_TARGET=" + srv.URL, "INFBENCH_MODEL=m", "INFBENCH_CONCURRENCY=1,2",
		resultsdir.EnvDir + "=" + dir}, "-test.bench=.")
	require.Equal(t, 0, r.Code)
	assert.Equal(t, 2, strings.Count(r.Stdout, "BenchmarkServe/engine=external/"), "both cells ran")
	assert.NotContains(t, r.Stdout, "server-running-max")
	out := r.Stdout + r.Stderr // held progress lines go under the cell's result
	assert.Equal(t, 1, strings.Count(out, "[infbench] engine external: no server metrics: it has no Prometheus endpoint"))
	sums, err := resultsdir.ReadSummaries(dir)
	require.NoError(t, err)
	require.Len(t, sums.Cells, 2)
	for _, c := range sums.Cells {
		assert.Nil(t, c.Server, c.Cell)
	}
}
