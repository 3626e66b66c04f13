package infbench_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/infbench/infbench/report"
	"github.com/infbench/infbench/resultsdir"
)

// TestBenchmarkOutputParses runs this test binary's own BenchmarkServe on
// a tiny matrix against the simulator, as `go test -bench` would, and
// reads its stdout with golang.org/x/perf/benchfmt, the parser benchstat
// uses: names, keys, units and configuration lines must follow the
// conventions in DESIGN.md, and the results folder must hold what the
// benchmark reported.
func TestBenchmarkOutputParses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark in a subprocess (a few seconds)")
	}
	dir := filepath.Join(t.TempDir(), "results")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkServe$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), "INFBENCH_TARGET=", "INFBENCH_MODEL=",
		"INFBENCH_REQUESTS=4", "INFBENCH_CONCURRENCY=2", "INFBENCH_PROMPTS=short", "INFBENCH_MAX_TOKENS=8",
		resultsdir.EnvDir+"="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("benchmark subprocess: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "[infbench] results in "+dir) {
		t.Errorf("stderr does not name the results folder %s:\n%s", dir, stderr.String())
	}

	name := regexp.MustCompile(`^Serve/engine=[^/]+/conc=[0-9]+/workload=[^/]+(-[0-9]+)?$`)
	configKey := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	var results []*benchfmt.Result
	r := benchfmt.NewReader(bytes.NewReader(stdout.Bytes()), "stdout")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("benchfmt: %v", rec)
		case *benchfmt.Result:
			results = append(results, rec.Clone())
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("%d benchmark results, want 1 (engine=sim/conc=2/workload=short):\n%s", len(results), stdout.String())
	}
	res := results[0]
	if full := string(res.Name.Full()); !name.MatchString(full) {
		t.Errorf("name %q does not match %v", full, name)
	}
	base, parts := res.Name.Parts()
	keys := map[string]string{}
	for _, p := range parts {
		if k, v, ok := strings.Cut(strings.TrimPrefix(string(p), "/"), "="); ok {
			keys[k] = v
		}
	}
	if string(base) != "Serve" || keys["engine"] != "sim" || keys["conc"] != "2" || keys["workload"] != "short" {
		t.Errorf("name parts: base %q, keys %v; want Serve with engine=sim, conc=2, workload=short", base, keys)
	}

	units := map[string]float64{}
	for _, v := range res.Values {
		u, x := v.Unit, v.Value
		if v.OrigUnit != "" {
			u, x = v.OrigUnit, v.OrigValue
		}
		units[u] = x
		if u == "ns/op" {
			t.Errorf("meaningless ns/op reported")
		}
		if strings.HasPrefix(u, "gpu-") || u == "J/tok" || u == "W" {
			t.Errorf("GPU metric %s reported on a simulator run", u)
		}
		serverCount := u == "server-running-max" || u == "server-waiting-max" || u == "preemptions"
		if !strings.HasSuffix(u, "-ns") && !strings.Contains(u, "/s") && !strings.HasSuffix(u, "-%") && !serverCount {
			t.Errorf("unit %q: want a latency ending in -ns, a rate in /s, a share ending in -%%, or a server count (server-running-max, server-waiting-max, preemptions)", u)
		}
	}
	// 4 requests: no p90, p95 or p99 over requests (flagged in
	// summary.json, left out of the benchmark line); the ITL pools 28 gaps.
	for _, u := range []string{"ttft-p99-ns", "ttft-p90-ns", "e2e-p99-ns", "tpot-p99-ns"} {
		if _, ok := units[u]; ok {
			t.Errorf("%s reported from 4 requests", u)
		}
	}
	for _, u := range []string{"ttft-p50-ns", "tpot-p50-ns", "itl-p50-ns", "e2e-p50-ns", "tok/s", "total-tok/s", "req/s", "tok/s/user", "err-%"} {
		if _, ok := units[u]; !ok {
			t.Errorf("unit %s missing; have %v", u, units)
		}
	}

	if !strings.Contains(stderr.String(), "[infbench] GPU metrics off: ") {
		t.Errorf("stderr does not say why GPU metrics are left out:\n%s", stderr.String())
	}
	var cfg []string
	seed := ""
	for _, c := range res.Config {
		if !c.File {
			continue
		}
		cfg = append(cfg, c.Key)
		if c.Key == "infbench-seed" {
			seed = string(c.Value)
		}
		if c.Key == "infbench" {
			t.Errorf("a progress line was read as configuration: infbench: %s", c.Value)
		}
		if !configKey.MatchString(c.Key) {
			t.Errorf("config key %q: want lower-case words joined by -", c.Key)
		}
	}
	for _, k := range []string{"goos", "goarch", "pkg", "infbench-api", "infbench-seed", "infbench-concurrency", "prompt-short-max-tokens", "engine-sim-kind"} {
		if !slices.Contains(cfg, k) {
			t.Errorf("config line %s missing; have %v", k, cfg)
		}
	}

	// The results folder holds the same cell: 4 measured requests and
	// 2 warmup (one per slot) in requests.jsonl, the summary the metrics
	// came from in summary.json, and the rendered report.
	reqs, truncated, err := resultsdir.ReadRequests(dir)
	if err != nil || truncated || len(reqs) != 6 {
		t.Fatalf("requests.jsonl: %d lines, truncated %v, err %v; want 6", len(reqs), truncated, err)
	}
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil || len(sums.Cells) != 1 {
		t.Fatalf("summary.json: %+v, %v", sums, err)
	}
	s := sums.Cells[0].Summary
	// The benchmark line prints about four significant digits.
	for unit, want := range map[string]float64{"tok/s": s.OutputTokPerSec, "ttft-p50-ns": s.TTFT.P50, "err-%": 100 * s.ErrorRate} {
		if got := units[unit]; math.Abs(got-want) > 1e-3*math.Abs(want) {
			t.Errorf("%s: benchmark line %v, summary.json %v", unit, got, want)
		}
	}
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range run.Config {
		if l.Key == "infbench-seed" && l.Value != seed {
			t.Errorf("seed: printed %s, used %s (run.json)", seed, l.Value)
		}
	}
	if len(run.Engines) != 1 || run.Engines[0].Name != "sim" || len(run.Engines[0].Info) == 0 || run.GitRevision == "" || run.GoVersion == "" {
		t.Errorf("run.json: engines %+v, git %q, go %q", run.Engines, run.GitRevision, run.GoVersion)
	}
	for _, f := range []string{report.ReportFile, "throughput-short.png", "tradeoff-short.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("rendered at the end of the run: %v", err)
		}
	}
}
