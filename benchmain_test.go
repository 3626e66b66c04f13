package infbench_test

import (
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench"
	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// Exit statuses of a benchmark run, besides the testing package's 0 and 1.
const (
	exitRefused = 2 // the run was refused before anything started: a bad flag, a pattern naming no engine, a bad configuration
)

// benchMain is TestMain's body. Before any engine starts it makes
// -benchtime=1x the default and refuses any other, refuses a -bench
// pattern that names no engine of this build, and prints the run's
// configuration lines. After the run it removes a results folder in which
// nothing was measured, and fails the run (exit status 1) when a cell was
// stopped early or more than max_error_rate of a cell's requests failed,
// naming the cells and their errors.
func benchMain(m *testing.M, getenv func(string) string, stdout io.Writer) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.benchtime" })
	if !set {
		_ = flag.Set("test.benchtime", "1x")
	}
	pattern := flagValue("test.bench")
	if pattern == "" || !selectsServe(pattern) {
		return m.Run()
	}
	// Messages go where progress lines go: to the terminal, not into the
	// results file, under go test -bench=. > new.txt.
	out := openProgress()
	defer out.close()
	stderr := out.w0()
	if bt := flagValue("test.benchtime"); bt != "1x" {
		fmt.Fprintf(stderr, "[infbench] -benchtime=%s: a cell sizes itself from engines.yaml (INFBENCH_REQUESTS), so one iteration is one cell: use -benchtime=1x (the default here) and -count=N for N samples\n", bt)
		return exitRefused
	}
	// One seed and one results folder for the whole process: the
	// configuration lines printed here, BenchmarkServe's Load and the
	// verdict after the run must agree on them.
	if getenv(infbench.EnvSeed) == "" {
		_ = os.Setenv(infbench.EnvSeed, fmt.Sprintf("%x", infbench.RandomSeed()))
	}
	dir := resultsdir.Dir(getenv, time.Now())
	_ = os.Setenv(resultsdir.EnvDir, dir)
	s, err := infbench.Load(runFile, promptsFile, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return exitRefused
	}
	if err := checkEngines(pattern, s); err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return exitRefused
	}
	for _, l := range s.ConfigLines() {
		fmt.Fprintf(stdout, "%s: %s\n", l.Key, l.Value)
	}
	code := m.Run()
	return verdict(code, dir, pattern, s, stderr)
}

// verdict is the run's exit status once the benchmarks have run: code,
// unless nothing was measured or a cell failed (status 1).
func verdict(code int, dir, pattern string, s *infbench.Suite, stderr io.Writer) int {
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil || len(sums.Cells) == 0 {
		if gone, rerr := resultsdir.RemoveUnmeasured(dir); rerr != nil {
			fmt.Fprintln(stderr, "[infbench]", rerr)
		} else if !gone {
			fmt.Fprintf(stderr, "[infbench] no cell measured; %s kept for the engine logs in it\n", dir)
		}
		if code == 0 {
			fmt.Fprintf(stderr, "[infbench] the run measured nothing: -bench=%s selects no cell of %s (cells are engine=%s, %s, prompt=%s)\n",
				pattern, runFile, strings.Join(engineNames(s.Engines()), "|"), loads(s), strings.Join(s.Categories(), "|"))
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
			errorsByReason(s.Errors), strings.Join(s.FirstErrors, "; "))
	}
	return ""
}

func errorsByReason(m map[string]int) string {
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for i, k := range kinds {
		kinds[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(kinds, ", ")
}

// checkEngines refuses a -bench pattern that selects BenchmarkServe but
// none of the engines this build runs, saying which exist and how to get
// the one named.
func checkEngines(pattern string, s *infbench.Suite) error {
	build := s.Engines()
	for _, e := range build {
		if selectsEngine(pattern, e.Name) {
			return nil
		}
	}
	var elsewhere []string
	for _, e := range s.Run.Engines {
		if !slices.ContainsFunc(build, func(x config.Engine) bool { return x.Name == e.Name }) && selectsEngine(pattern, e.Name) {
			elsewhere = append(elsewhere, e.Name)
		}
	}
	have := strings.Join(engineNames(build), ", ")
	if have == "" {
		have = "none"
	}
	switch {
	case os.Getenv(config.EnvTarget) != "":
		return fmt.Errorf("-bench=%s selects no engine of this run: %s is set, so the only engine is external (use -bench=Serve/engine=external, or unset %s)",
			pattern, config.EnvTarget, config.EnvTarget)
	case len(elsewhere) > 0 && !engines.GPUBuild:
		return fmt.Errorf("-bench=%s selects %s, container engines that run only with -tags=gpu: go test -tags=gpu -run='^$' -bench='%s' -timeout 0 . (this build runs: %s)",
			pattern, strings.Join(elsewhere, ", "), pattern, have)
	case len(elsewhere) > 0:
		return fmt.Errorf("-bench=%s selects %s, which runs only without -tags=gpu (this build runs: %s)", pattern, strings.Join(elsewhere, ", "), have)
	}
	return fmt.Errorf("-bench=%s selects no engine of %s: it has %s, and this build runs %s (container engines need -tags=gpu, the simulator runs without it)",
		pattern, runFile, strings.Join(engineNames(s.Run.Engines), ", "), have)
}

func engineNames(es []config.Engine) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func loads(s *infbench.Suite) string {
	var parts []string
	for _, c := range s.Run.Concurrency {
		parts = append(parts, fmt.Sprint("conc=", c))
	}
	for _, r := range s.Run.Rates {
		parts = append(parts, cell.RateLoad(r))
	}
	return strings.Join(parts, "|")
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// selectsServe reports whether the -bench pattern runs BenchmarkServe,
// matching as the testing package does: alternatives split on a top-level
// '|', levels on '/', each level an unanchored regular expression.
func selectsServe(pattern string) bool {
	for _, levels := range benchLevels(pattern) {
		if matches(levels, 0, "BenchmarkServe") {
			return true
		}
	}
	return false
}

// selectsEngine reports whether the pattern runs BenchmarkServe/engine=name.
func selectsEngine(pattern, name string) bool {
	for _, levels := range benchLevels(pattern) {
		if matches(levels, 0, "BenchmarkServe") && matches(levels, 1, "engine="+name) {
			return true
		}
	}
	return false
}

func matches(levels []string, i int, name string) bool {
	if i >= len(levels) || levels[i] == "" {
		return true
	}
	re, err := regexp.Compile(levels[i])
	return err == nil && re.MatchString(name)
}

// benchLevels splits a -bench pattern as the testing package does.
func benchLevels(pattern string) [][]string {
	var out [][]string
	for _, alt := range splitTop(pattern, '|') {
		out = append(out, splitTop(alt, '/'))
	}
	return out
}

// splitTop splits s on sep outside brackets and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	cs, cp, start := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			cs++
		case ']':
			if cs > 0 {
				cs--
			}
		case '(':
			if cs == 0 {
				cp++
			}
		case ')':
			if cs == 0 && cp > 0 {
				cp--
			}
		case '\\':
			i++
		case sep:
			if cs == 0 && cp == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
