package report_test

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// TestRenderFullFolder measures the small fixture on the simulator (two
// engines, two workloads, closed and open loop, repetitions, a capacity
// search per workload) and checks what the report makes of it against
// what the folder holds: every chart, the capacity table from
// sweep.json, the small-sample marks, summary.csv and the spread.
func TestRenderFullFolder(t *testing.T) {
	dir := smallFixture().measure(t, t.TempDir())
	require.NoError(t, report.Rebuild(t.Context(), dir))
	sums, err := resultsdir.ReadSummaries(dir)
	require.NoError(t, err)
	sweeps, err := resultsdir.ReadSweeps(dir)
	require.NoError(t, err)
	require.Len(t, sweeps.Sweeps, 2, "one search per workload for the rate engine")
	mdBytes, err := os.ReadFile(filepath.Join(dir, report.ReportFile))
	require.NoError(t, err)
	md := string(mdBytes)

	t.Run("charts", func(t *testing.T) {
		for _, w := range []string{"short", "long"} {
			assert.Contains(t, md, "## workload="+w+"\n")
			for _, c := range []string{"throughput", "ttft", "tpot", "tradeoff", "goodput", "e2e", "itl",
				"cdf-ttft", "cdf-e2e", "load-ttft", "load-tpot", "load-goodput"} {
				file := c + "-" + w + ".png"
				fi, err := os.Stat(filepath.Join(dir, file))
				if assert.NoError(t, err) {
					assert.Less(t, fi.Size(), int64(150<<10), file)
				}
				assert.Contains(t, md, "]("+file+")")
			}
		}
	})

	t.Run("capacity", func(t *testing.T) {
		for _, s := range sweeps.Sweeps {
			svg, err := os.ReadFile(filepath.Join(dir, "load-ttft-"+s.Workload+".svg"))
			require.NoError(t, err)
			passed := 0
			for _, p := range s.Probes {
				if p.Pass {
					passed++
				}
			}
			capTxt := "none passed"
			if s.Capacity > 0 {
				capTxt = strconv.FormatFloat(s.Capacity, 'g', 4, 64)
				// The marker's label is in the chart.
				assert.Contains(t, string(svg), "slo-max "+strconv.FormatFloat(s.Capacity, 'g', 3, 64)+" req/s", s.Workload)
			}
			row := fmt.Sprintf("| %s | 0 | %s | %s | %d: ", s.Engine, capTxt, strconv.FormatFloat(s.Goodput, 'f', 2, 64), len(s.Probes))
			assert.Contains(t, md, row, "capacity row of workload %s (%d of %d probes passed)", s.Workload, passed, len(s.Probes))
		}
		assert.Equal(t, 2, strings.Count(md, "### Capacity under SLO"))
		for _, s := range sweeps.Sweeps {
			assert.Contains(t, md, fmt.Sprintf("Probes judged on: TTFT p99 ≤ %v, TPOT p99 ≤ %v, error rate ≤ 1%%.",
				time.Duration(s.TTFTP99), time.Duration(s.TPOTP99)))
			// The fixture's bounds pass its first two probes: every
			// search found a capacity, and the chart marks it.
			assert.GreaterOrEqual(t, s.Capacity, 40.0, "search of %s/%s: %+v", s.Engine, s.Workload, s.Probes)
			for _, p := range s.Probes {
				if !p.Pass {
					assert.Contains(t, md, fmt.Sprintf("- %s rep 0 at %s req/s: %s\n", s.Engine, strconv.FormatFloat(p.Rate, 'g', 4, 64), p.Why))
				}
			}
		}
	})

	t.Run("small samples marked", func(t *testing.T) {
		// fast at conc=4, workload short: one run of 12 requests.
		var s *loadgen.Summary
		for i := range sums.Cells {
			if c := sums.Cells[i]; c.Engine == "fast" && c.Conc == 4 && c.Workload == "short" {
				s = &sums.Cells[i].Summary
			}
		}
		require.NotNil(t, s)
		require.Less(t, s.TTFT.N, 100)
		note := fmt.Sprintf(" p99 of %d samples (< 100)", s.TTFT.N)
		i := strings.Index(md, note)
		require.GreaterOrEqual(t, i, 1, "no footnote %q", note)
		sym := strings.TrimSpace(md[strings.LastIndex(md[:i], "\n")+1 : i])
		want := fmt.Sprintf("%s / %s%s", msText(s.TTFT.P50), msText(s.TTFT.P99), sym)
		assert.Contains(t, md, want, "the TTFT p99 in the table carries its mark %q", sym)
	})

	t.Run("summary.csv", func(t *testing.T) {
		f, err := os.Open(filepath.Join(dir, report.CSVFile))
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 1+len(sums.Cells), "a header and one row per cell run")
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		for _, h := range []string{"engine", "workload", "conc", "rate", "rep", "ttft_p99_ms", "goodput_req_per_s", "small_sample"} {
			require.Contains(t, col, h)
		}
		reps := 0
		for i, c := range sums.Cells {
			r := rows[1+i]
			assert.Equal(t, c.Engine, r[col["engine"]])
			assert.Equal(t, c.Workload, r[col["workload"]])
			assert.Equal(t, strconv.Itoa(c.Rep), r[col["rep"]])
			if c.Rate > 0 {
				assert.Equal(t, "", r[col["conc"]])
				assert.Equal(t, strconv.FormatFloat(c.Rate, 'g', -1, 64), r[col["rate"]])
			} else {
				assert.Equal(t, strconv.Itoa(c.Conc), r[col["conc"]])
			}
			got, err := strconv.ParseFloat(r[col["ttft_p99_ms"]], 64)
			require.NoError(t, err)
			assert.InEpsilon(t, c.Summary.TTFT.P99/1e6, got, 1e-5, "%s rep %d", c.Cell, c.Rep)
			assert.Contains(t, r[col["small_sample"]], "ttft_p99", "every cell here has < 100 requests")
			reps = max(reps, c.Rep)
		}
		assert.Equal(t, 1, reps, "the repeated cells have rep 0 and 1")
	})

	t.Run("spread", func(t *testing.T) {
		run, err := resultsdir.ReadRun(dir)
		require.NoError(t, err)
		cats := report.Categories(sums.Cells, run.EngineNames())
		var reps []float64
		for _, c := range sums.Cells {
			if c.Engine == "slow" && c.Conc == 1 && c.Workload == "long" {
				reps = append(reps, c.Summary.OutputTokPerSec)
			}
		}
		require.Len(t, reps, 2)
		for _, c := range cats {
			if c.Workload != "long" {
				continue
			}
			v := c.At("slow", 1).OutTokPerSec
			assert.Equal(t, math.Min(reps[0], reps[1]), v.Min)
			assert.Equal(t, math.Max(reps[0], reps[1]), v.Max)
			assert.InEpsilon(t, (reps[0]+reps[1])/2, v.Med, 1e-12)
			assert.Equal(t, 2, c.AtRate("fast", 10).Reps, "the first rate ran twice")
		}
	})

	t.Run("distributions", func(t *testing.T) {
		// The CDF panel says how many requests it draws: the measured,
		// completed ones of both repetitions at conc=1.
		n := 0
		for _, c := range sums.Cells {
			if c.Engine == "fast" && c.Conc == 1 && c.Workload == "short" {
				n += c.Summary.TTFT.N
			}
		}
		svg, err := os.ReadFile(filepath.Join(dir, "cdf-ttft-short.svg"))
		require.NoError(t, err)
		// Both engines ran the same cells without errors: one n, or a
		// range when they differ.
		assert.Regexp(t, fmt.Sprintf(`conc=1, n=(%[1]d|\d+–%[1]d|%[1]d–\d+)\b`, n), string(svg))
	})
}

// msText is how report.md prints nanoseconds.
func msText(ns float64) string {
	v := ns / 1e6
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}
