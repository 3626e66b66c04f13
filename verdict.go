package infbench

import (
	"fmt"
	"io"
	"strings"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// verdict is the run's exit status once the benchmarks have run: code,
// unless nothing was measured or a cell failed (status 1).
func verdict(code int, dir, pattern string, s *Suite, stderr io.Writer) int {
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil || len(sums.Cells) == 0 {
		if gone, rerr := resultsdir.RemoveUnmeasured(dir); rerr != nil {
			fmt.Fprintln(stderr, "[infbench]", rerr)
		} else if !gone {
			fmt.Fprintf(stderr, "[infbench] no cell measured; %s kept for the engine logs in it\n", dir)
		}
		if code == 0 {
			fmt.Fprintf(stderr, "[infbench] the run measured nothing: -bench=%s selects no cell of %s (cells are engine=%s, %s, workload=%s)\n",
				pattern, s.RunFile, strings.Join(engineNames(s.Engines()), "|"), loads(s), strings.Join(s.Workloads(), "|"))
			return 1
		}
		return code
	}
	limit := s.Run.ErrorRateLimit()
	var failed []string
	for _, c := range sums.Cells {
		if why := cellFailure(c.Summary, limit); why != "" {
			name := c.Cell
			if c.Rep > 0 {
				name += fmt.Sprintf(" (repetition %d)", c.Rep+1)
			}
			failed = append(failed, name+": "+why)
		}
	}
	if len(failed) == 0 {
		return code
	}
	fmt.Fprintf(stderr, "[infbench] FAIL: %d of %d cells failed (max_error_rate %g, %s to change it); their benchmark lines and summaries are kept in %s:\n",
		len(failed), len(sums.Cells), limit, config.EnvMaxErrorRate, dir)
	for _, f := range failed {
		fmt.Fprintf(stderr, "[infbench]   %s\n", f)
	}
	return 1
}

// cellFailure says why a cell fails the run, or returns "".
func cellFailure(s loadgen.Summary, limit float64) string {
	for _, f := range s.Flags {
		if strings.HasPrefix(f, "stopped early:") {
			return f
		}
	}
	if s.Requests > 0 && s.ErrorRate > limit {
		return fmt.Sprintf("%d of %d requests failed (%.1f%%): %s; first: %s", s.Failed, s.Requests, 100*s.ErrorRate,
			s.ErrorList(), strings.Join(s.FirstErrors, "; "))
	}
	return ""
}
