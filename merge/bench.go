package merge

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// writeBench writes the benchmark-format file of a merged run: the
// lines a single process would have printed — goos, goarch and pkg, the
// configuration lines of run.json, each engine's info lines — then
// infbench-shards, and one line per cell run, named
// BenchmarkServe/<cell>-<GOMAXPROCS of shard 0>, with one iteration and
// the summary's metrics and the server's, sorted by unit as the testing
// package prints them.
func writeBench(path string, run *resultsdir.Run, sums *resultsdir.Summaries) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/infbench/infbench\n", run.GOOS, run.GOARCH)
	for _, l := range run.Config {
		fmt.Fprintf(w, "%s: %s\n", l.Key, l.Value)
	}
	for _, e := range run.Engines {
		for _, l := range e.Info {
			fmt.Fprintf(w, "%s: %s\n", l.Key, l.Value)
		}
	}
	fmt.Fprintf(w, "infbench-shards: %d\n", run.Shard.Count)
	suffix := ""
	if p := run.Shard.Procs; p > 1 {
		suffix = fmt.Sprintf("-%d", p)
	}
	for _, c := range sums.Cells {
		ms := c.Summary.Metrics()
		if c.Server != nil {
			for _, m := range c.Server.Metrics() {
				ms = append(ms, loadgen.Metric{Value: m.Value, Unit: m.Unit})
			}
		}
		slices.SortStableFunc(ms, func(a, b loadgen.Metric) int {
			switch {
			case a.Unit < b.Unit:
				return -1
			case a.Unit > b.Unit:
				return 1
			}
			return 0
		})
		fmt.Fprintf(w, "BenchmarkServe/%s%s\t%8d", c.Cell, suffix, 1)
		for _, m := range ms {
			fmt.Fprintf(w, "\t%s", pretty(m.Value, m.Unit))
		}
		fmt.Fprintln(w)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// pretty formats a metric as the testing package does (prettyPrint in
// src/testing/benchmark.go): fewer decimals for larger values.
func pretty(x float64, unit string) string {
	var format string
	switch y := math.Abs(x); {
	case y == 0 || y >= 999.95:
		format = "%10.0f %s"
	case y >= 99.995:
		format = "%12.1f %s"
	case y >= 9.9995:
		format = "%13.2f %s"
	case y >= 0.99995:
		format = "%14.3f %s"
	case y >= 0.099995:
		format = "%15.4f %s"
	case y >= 0.0099995:
		format = "%16.5f %s"
	case y >= 0.00099995:
		format = "%17.6f %s"
	default:
		format = "%18.7f %s"
	}
	return fmt.Sprintf(format, x, unit)
}
