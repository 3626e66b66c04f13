package report_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
	"github.com/infbench/infbench/servermetrics"
)

// report.md shows each cell's server metrics in a table ("–" for what
// the engine does not export) and their flags with the cell's, and
// Rebuild keeps them in summary.json, since requests.jsonl cannot give
// them back.
func TestReportServerMetrics(t *testing.T) {
	dir := t.TempDir()
	run := resultsdir.Run{Start: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Engines: []resultsdir.Engine{{Name: "sim", Kind: "sim"}, {Name: "vllm", Kind: "container"}}}
	w, err := resultsdir.Create(dir, run)
	require.NoError(t, err)
	f := func(v float64) *float64 { return &v }
	server := map[string]*servermetrics.Cell{
		"sim/1": {Engine: "sim", Running: &servermetrics.Stat{Mean: 1, Max: 1}, Waiting: &servermetrics.Stat{}, Preemptions: f(0)},
		"sim/8": {Engine: "sim", Running: &servermetrics.Stat{Mean: 3.5, Max: 4}, Waiting: &servermetrics.Stat{Mean: 3, Max: 4}, Preemptions: f(0)},
		"vllm/1": {Engine: "vllm", Running: &servermetrics.Stat{Mean: 1, Max: 1}, Waiting: &servermetrics.Stat{},
			KVUsagePct: &servermetrics.Stat{Mean: 12.5, Max: 25}, Preemptions: f(3), PrefixHitPct: f(1.5)},
		"vllm/8": nil, // no metrics for this cell
	}
	server["sim/8"].FlagBatchLimit(8)
	for _, e := range []string{"sim", "vllm"} {
		for _, conc := range []int{1, 8} {
			key := resultsdir.Key{Cell: fmt.Sprintf("engine=%s/conc=%d/workload=short", e, conc), Engine: e, Conc: conc, Workload: "short"}
			sink := w.Sink(key)
			var recs []loadgen.Record
			for i := range 2 * conc {
				r := syntheticRecord(i, time.Duration(i)*time.Millisecond, 50*time.Millisecond, 5*time.Millisecond, 8)
				sink(r)
				recs = append(recs, r)
			}
			require.NoError(t, w.Add(resultsdir.CellSummary{Key: key, Summary: loadgen.Summarize(recs, run.SLO), Server: server[fmt.Sprintf("%s/%d", e, conc)]}))
		}
	}
	require.NoError(t, w.Close())
	require.NoError(t, report.Rebuild(t.Context(), dir))

	sums, err := resultsdir.ReadSummaries(dir)
	require.NoError(t, err)
	for _, c := range sums.Cells {
		assert.Equal(t, server[fmt.Sprintf("%s/%d", c.Engine, c.Conc)], c.Server, c.Cell)
	}
	md, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	require.NoError(t, err)
	got := string(md)
	for _, row := range []string{
		"| engine | conc | running mean / max | waiting mean / max | KV cache mean / peak % | preemptions | prefix hit % |",
		"| sim | 1 | 1.0 / 1.0 | 0.0 / 0.0 | – | 0 | – |",
		"| sim | 8 | 3.5 / 4.0 | 3.0 / 4.0 | – | 0 | – |",
		"| vllm | 1 | 1.0 / 1.0 | 0.0 / 0.0 | 12.5 / 25.0 | 3 | 1.5 |",
		"- engine=sim conc=8: the engine ran at most 4 requests at once while up to 4 waited, below the cell's concurrency 8",
	} {
		assert.Contains(t, got, row)
	}
	assert.NotContains(t, got, "| vllm | 8 |")
	assert.Equal(t, 1, strings.Count(got, "ran at most"))
}
