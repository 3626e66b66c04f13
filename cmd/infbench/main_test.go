package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/resultsdir"
)

// measure runs one small cell against the simulator into a new results
// folder, as BenchmarkServe does.
func measure(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	url := simtest.Start(t, sim.Config{Model: "m"})
	w, err := resultsdir.Create(dir, resultsdir.Run{Start: time.Now(), Engines: []resultsdir.Engine{{Name: "sim", Kind: "sim", Model: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	cl := cell.Cell{Engine: "sim", Concurrency: 2, Workload: "short", Prompts: []string{"Hi."}, MaxTokens: 4, Requests: 6, Warmup: 2}
	if _, _, err := simtest.Record(t.Context(), t, w, simtest.Client(t, url, "m", 2), cl, cell.NewSalter(1), nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReport(t *testing.T) {
	dir := measure(t)
	img := filepath.Join(t.TempDir(), "docs", "img")
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"report", "-img", img, dir}, &stdout, &stderr); err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	if got, want := strings.TrimSpace(stdout.String()), filepath.Join(dir, "report.md"); got != want {
		t.Errorf("stdout %q, want the report's path %q", got, want)
	}
	for _, f := range []string{filepath.Join(dir, "report.md"), filepath.Join(dir, "throughput-short.svg"), filepath.Join(img, "tradeoff-short.png")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"plot"}, {"report"}, {"report", "a", "b"}} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "usage: infbench report") {
			t.Errorf("args %q: err %v, stderr %q; want usage", args, err, errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"report", filepath.Join(t.TempDir(), "missing")}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "run.json") {
		t.Errorf("missing folder: err %v, want one naming run.json", err)
	}
}

// TestExitCodes: a usage error prints the usage and exits 2 without the
// flag package's "flag: help requested" trailer; other errors exit 1.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		lastLine string // of stderr
	}{
		{[]string{"report"}, 2, "also copy the PNG charts to this folder (e.g. docs/img)"},
		{nil, 2, "report.md and summary.csv into the results folder."},
		{[]string{"report", "-h"}, 2, "also copy the PNG charts to this folder (e.g. docs/img)"},
		{[]string{"report", "-x", "dir"}, 2, "also copy the PNG charts to this folder (e.g. docs/img)"},
		{[]string{"plot"}, 2, `infbench: unknown subcommand "plot" (want report)`},
		{[]string{"report", "a", "b"}, 2, "infbench: report: want one results folder, got 2 arguments"},
		{[]string{"report", filepath.Join(t.TempDir(), "missing")}, 1, ""},
	} {
		var out, errOut bytes.Buffer
		code := exitCode(run(t.Context(), tc.args, &out, &errOut), &errOut)
		stderr := errOut.String()
		if code != tc.code {
			t.Errorf("args %q: exit %d, want %d; stderr %q", tc.args, code, tc.code, stderr)
		}
		if strings.Contains(stderr, "help requested") {
			t.Errorf("args %q: stderr %q mentions the flag package's ErrHelp", tc.args, stderr)
		}
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		if tc.lastLine != "" && last != tc.lastLine {
			t.Errorf("args %q: stderr ends %q, want %q", tc.args, last, tc.lastLine)
		}
		if tc.code == 2 && !strings.Contains(stderr, "usage: infbench report") {
			t.Errorf("args %q: stderr %q lacks the usage", tc.args, stderr)
		}
		if tc.code == 1 && !strings.HasPrefix(last, "infbench: ") {
			t.Errorf("args %q: stderr ends %q, want the error", tc.args, last)
		}
	}
	if code := exitCode(nil, io.Discard); code != 0 {
		t.Errorf("exitCode(nil) = %d", code)
	}
}
