package infbench

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// verdict is the run's exit status once the benchmarks have run: code,
// unless nothing was measured or a cell failed (status 1). The probes of
// the capacity searches in sweep.json do not fail the run: a probe above
// max_error_rate, or stopped by the give-up rule, is a fail of its
// search, which is what a search looks for above capacity.
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
			if !s.Run.Sweep.Enabled && strings.Contains(pattern, "sweep") {
				fmt.Fprintf(stderr, "[infbench] %s cells run only when the capacity search is on: sweep.enabled in %s, or %s=1\n", SweepLevel, s.RunFile, config.EnvSweep)
			}
			return 1
		}
		return code
	}
	limit := s.Run.ErrorRateLimit()
	probes, err := sweepProbes(dir)
	if err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return 1
	}
	var failed []string
	exempt := 0
	for _, c := range sums.Cells {
		why := cellFailure(c.Summary, limit)
		if why != "" && probes[probeKey{c.Cell, c.Rep}] {
			exempt++
			continue
		}
		if why != "" {
			name := c.Cell
			if c.Rep > 0 {
				name += fmt.Sprintf(" (repetition %d)", c.Rep+1)
			}
			failed = append(failed, name+": "+why)
		}
	}
	if exempt > 0 {
		fmt.Fprintf(stderr, "[infbench] %d capacity-search probes stopped early or failed more than max_error_rate of their requests: expected of a search, they count as fails there and do not fail the run (%s)\n",
			exempt, filepath.Join(dir, resultsdir.SweepFile))
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

// probeKey names a cell run: its name and repetition.
type probeKey struct {
	cell string
	rep  int
}

// sweepProbes is the set of cell runs that were probes of a capacity
// search (sweep.json): a probe above max_error_rate, or stopped by the
// give-up rule, is a fail of its search, not of the run.
func sweepProbes(dir string) (map[probeKey]bool, error) {
	sw, err := resultsdir.ReadSweeps(dir)
	if err != nil {
		return nil, err
	}
	out := map[probeKey]bool{}
	for _, s := range sw.Sweeps {
		for _, p := range s.Probes {
			out[probeKey{p.Cell, p.Rep}] = true
		}
	}
	return out, nil
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
