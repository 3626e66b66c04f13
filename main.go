package infbench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/infbench/infbench/resultsdir"
)

// Exit statuses of a benchmark run, besides the testing package's 0 and 1.
const (
	exitRefused = 2 // the run was refused before anything started: a bad flag, a pattern naming no engine, a bad configuration
)

// Tests is what Main needs of *testing.M: running the tests and
// benchmarks.
type Tests interface{ Run() int }

// Main is TestMain's body for a suite read from runFile and promptsFile.
// Before any engine starts it makes -benchtime=1x the default and refuses
// any other, refuses a -bench pattern that names no engine of this build,
// and prints the run's configuration lines to stdout. After the run it
// removes a results folder in which nothing was measured, and fails the
// run (exit status 1) when a cell was stopped early or more than
// max_error_rate of a cell's requests failed, naming the cells and their
// errors; a capacity search's probes (sweep.json) are exempt, since they
// fail their search instead. It returns the exit status.
//
// The seed and the results folder are fixed here for the whole process
// and passed to BenchmarkServe through INFBENCH_SEED and INFBENCH_RESULTS,
// so that the configuration lines, every cell and the verdict agree.
func Main(m Tests, runFile, promptsFile string, getenv func(string) string, stdout io.Writer) int {
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
	out := OpenProgress(Chatty())
	defer out.Close()
	stderr := out.W()
	if bt := flagValue("test.benchtime"); bt != "1x" {
		fmt.Fprintf(stderr, "[infbench] -benchtime=%s: a cell sizes itself from engines.yaml (INFBENCH_REQUESTS), so one iteration is one cell: use -benchtime=1x (the default here) and -count=N for N samples\n", bt)
		return exitRefused
	}
	if err := checkSharding(getenv); err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return exitRefused
	}
	seed := getenv(EnvSeed)
	if seed == "" {
		seed = fmt.Sprintf("%x", RandomSeed())
	}
	dir := resultsdir.Dir(getenv, time.Now())
	_ = os.Setenv(EnvSeed, seed)
	_ = os.Setenv(resultsdir.EnvDir, dir)
	env := func(k string) string {
		switch k {
		case EnvSeed:
			return seed
		case resultsdir.EnvDir:
			return dir
		}
		return getenv(k)
	}
	s, err := Load(runFile, promptsFile, env)
	if err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return exitRefused
	}
	if err := checkEngines(pattern, s, env); err != nil {
		fmt.Fprintln(stderr, "[infbench]", err)
		return exitRefused
	}
	for _, l := range append(s.ConfigLines(), s.sweepLines()...) {
		fmt.Fprintf(stdout, "%s: %s\n", l.Key, l.Value)
	}
	for _, n := range s.Notes() {
		fmt.Fprintln(stderr, "[infbench]", n)
	}
	code := m.Run()
	return verdict(code, dir, pattern, s, stderr)
}

// Chatty reports -test.v.
func Chatty() bool {
	v := flagValue("test.v")
	return v != "" && v != "false"
}

// Deadline is when the test binary's -timeout, counted from start, kills
// it without running any cleanup, or zero with -timeout 0: container
// engines are terminated shortly before it.
func Deadline(start time.Time) time.Time {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return time.Time{}
	}
	d, ok := f.Value.(flag.Getter).Get().(time.Duration)
	if !ok || d <= 0 {
		return time.Time{}
	}
	return start.Add(d)
}
