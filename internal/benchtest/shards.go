package benchtest

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// Sim runs a simulated engine with cfg on a loopback port until the test
// ends. Its Server's PeakInFlight (sim:peak_requests_in_flight) is the
// truth a sharded run's concurrency is checked against.
func Sim(t *testing.T, cfg sim.Config) *sim.Listening {
	t.Helper()
	l, err := sim.Listen(t.Context(), "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

// FreePort returns a loopback host:port free a moment ago, for shard 0's
// barrier (INFBENCH_COORDINATOR).
func FreePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// RunShards starts n shards of one run as subprocesses of the test
// binary at binary, all against the server at url (model m), in the
// working directory cwd ("": the test's), each into its own folder
// base/shard-<i>, with the environment env and the extra arguments
// (-test.bench=. when none), and returns the folders and the processes,
// started and not waited for.
func RunShards(t *testing.T, binary string, n int, url, cwd, base string, env []string, args ...string) ([]string, []*Proc) {
	t.Helper()
	if len(args) == 0 {
		args = []string{"-test.bench=."}
	}
	coord := FreePort(t)
	var dirs []string
	var procs []*Proc
	for i := range n {
		dir := filepath.Join(base, fmt.Sprintf("shard-%d", i))
		p, err := Start(t, binary, cwd, append(slices.Clone(env), "INFBENCH_TARGET="+url, "INFBENCH_MODEL=m",
			fmt.Sprintf("INFBENCH_SHARD=%d/%d", i, n), "INFBENCH_COORDINATOR="+coord, resultsdir.EnvDir+"="+dir), args...)
		if err != nil {
			t.Fatalf("starting shard %d of %d: %v", i, n, err)
		}
		dirs, procs = append(dirs, dir), append(procs, p)
	}
	return dirs, procs
}

// RelDiff is |got − want| / want.
func RelDiff(got, want float64) float64 { return math.Abs(got-want) / want }

// WithRamp returns a working directory for the benchmark: a copy of the
// test's testdata/ whose runFile (e.g. testdata/engines.yaml) ramps each
// cell's first requests over ramp (its ramp: line replaced).
func WithRamp(t *testing.T, runFile string, ramp time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "testdata"), os.DirFS("testdata")); err != nil {
		t.Fatalf("copying testdata: %v", err)
	}
	data, err := os.ReadFile(runFile)
	if err != nil {
		t.Fatal(err)
	}
	out := regexp.MustCompile(`(?m)^ramp: .*$`).ReplaceAll(data, []byte("ramp: "+ramp.String()))
	if bytes.Equal(data, out) {
		t.Fatalf("%s has no ramp: line to replace", runFile)
	}
	path := filepath.Join(dir, runFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CellSummary is the summary of the one cell in the results folder dir;
// the test fails unless there is exactly one.
func CellSummary(t *testing.T, dir string) loadgen.Summary {
	t.Helper()
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.Cells) != 1 {
		t.Fatalf("%s: %d cells in the summary, want 1", dir, len(sums.Cells))
	}
	return sums.Cells[0].Summary
}

// BenchResults parses data (named name in messages) as benchstat does,
// failing the test on a syntax error, and returns its results.
func BenchResults(t *testing.T, name string, data []byte) []*benchfmt.Result {
	t.Helper()
	var out []*benchfmt.Result
	r := benchfmt.NewReader(bytes.NewReader(data), name)
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.Result:
			out = append(out, rec.Clone())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return out
}

// Units are a benchmark result's units, in order.
func Units(r *benchfmt.Result) []string {
	var out []string
	for _, v := range r.Values {
		out = append(out, v.Unit)
	}
	return out
}

// Value is the result's value in unit, and whether it has one.
func Value(r *benchfmt.Result, unit string) (float64, bool) {
	for _, v := range r.Values {
		if v.Unit == unit {
			return v.Value, true
		}
	}
	return 0, false
}
