package resultsdir_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

func TestCreateWritesValidFilesAtOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	start := time.Date(2026, 11, 27, 7, 15, 0, 0, time.UTC)
	w, err := resultsdir.Create(dir, resultsdir.Run{Start: start, Model: "m",
		Engines: []resultsdir.Engine{{Name: "a", Kind: "sim", Model: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run, err := resultsdir.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !run.Start.Equal(start) || run.Model != "m" || len(run.Engines) != 1 {
		t.Errorf("run.json read back as %+v", run)
	}
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sums.Cells == nil || len(sums.Cells) != 0 {
		t.Errorf("summary.json of a new run: %+v, want an empty cells list", sums)
	}
	reqs, truncated, err := resultsdir.ReadRequests(dir)
	if err != nil || truncated || len(reqs) != 0 {
		t.Errorf("requests.jsonl of a new run: %d requests, truncated %v, err %v", len(reqs), truncated, err)
	}

	if err := w.SetEngine(resultsdir.Engine{Name: "a", Kind: "sim", Model: "m", Info: []config.Line{{Key: "engine-a-image", Value: "x@sha256:1"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetEngine(resultsdir.Engine{Name: "b", Kind: "sim"}); err != nil {
		t.Fatal(err)
	}
	run, err = resultsdir.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Engines) != 2 || len(run.Engines[0].Info) != 1 || run.Engines[0].Info[0].Value != "x@sha256:1" || run.Engines[1].Name != "b" {
		t.Errorf("engines after SetEngine: %+v", run.Engines)
	}

	if _, err := resultsdir.Create(dir, resultsdir.Run{}); err == nil || !strings.Contains(err.Error(), resultsdir.EnvDir) {
		t.Errorf("Create on a folder holding a run: err %v, want a refusal naming %s", err, resultsdir.EnvDir)
	}
}

func TestSinkConcurrentLinesAndSummaries(t *testing.T) {
	dir := t.TempDir()
	w, err := resultsdir.Create(dir, resultsdir.Run{})
	if err != nil {
		t.Fatal(err)
	}
	key := resultsdir.Key{Cell: "engine=a/conc=8/workload=short", Engine: "a", Conc: 8, Workload: "short", Rep: w.NextRep("engine=a/conc=8/workload=short")}
	sink := w.Sink(key)
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sink(loadgen.Record{Index: i, Sent: time.Duration(i), End: time.Second, OutputTokens: 64,
				Events: make([]loadgen.Event, 64)})
		}()
	}
	wg.Wait()
	if err := w.AddSummary(key, loadgen.Summary{Requests: n, Completed: n}); err != nil {
		t.Fatal(err)
	}
	if got := w.NextRep(key.Cell); got != 1 {
		t.Errorf("second NextRep = %d, want 1", got)
	}
	reqs, truncated, err := resultsdir.ReadRequests(dir)
	if err != nil || truncated {
		t.Fatalf("ReadRequests: truncated %v, err %v", truncated, err)
	}
	seen := map[int]bool{}
	for _, q := range reqs {
		if q.Key != key || len(q.Events) != 64 {
			t.Fatalf("line %+v: wrong key or events", q.Key)
		}
		seen[q.Index] = true
	}
	if len(reqs) != n || len(seen) != n {
		t.Errorf("%d lines, %d distinct indexes; want %d (interleaved writes?)", len(reqs), len(seen), n)
	}
	sums, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums.Cells) != 1 || sums.Cells[0].Key != key || sums.Cells[0].Summary.Completed != n {
		t.Errorf("summary.json: %+v", sums)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Cells() != 1 {
		t.Errorf("Cells() = %d, want 1", w.Cells())
	}
	// No temporary files are left behind by the atomic rewrites.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("folder holds %v, want run.json, requests.jsonl, summary.json", names)
	}
}

func TestSinkWriteErrorIsReported(t *testing.T) {
	dir := t.TempDir()
	w, err := resultsdir.Create(dir, resultsdir.Run{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Sink(resultsdir.Key{Cell: "c"})(loadgen.Record{})
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), resultsdir.RequestsFile) {
		t.Errorf("write after Close: Err() = %v, want an error naming %s", err, resultsdir.RequestsFile)
	}
	if err := w.AddSummary(resultsdir.Key{Cell: "c"}, loadgen.Summary{}); err == nil {
		t.Error("AddSummary after a failed request write returned nil")
	}
}

func writeRequests(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, resultsdir.RequestsFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func line(t *testing.T, i int) string {
	b, err := json.Marshal(resultsdir.Request{Key: resultsdir.Key{Cell: "c"}, Record: loadgen.Record{Index: i, OutputTokens: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestReadRequestsTruncatedLastLine(t *testing.T) {
	full := line(t, 0) + line(t, 1) + line(t, 2)
	for cut := len(full) - len(line(t, 2)) + 1; cut < len(full)-1; cut += 7 {
		dir := writeRequests(t, full[:cut])
		reqs, truncated, err := resultsdir.ReadRequests(dir)
		if err != nil || !truncated || len(reqs) != 2 || reqs[1].Index != 1 {
			t.Fatalf("cut at %d: %d requests, truncated %v, err %v; want the 2 whole lines and truncated", cut, len(reqs), truncated, err)
		}
	}
	// A complete last line without its newline is kept.
	dir := writeRequests(t, full[:len(full)-1])
	if reqs, truncated, err := resultsdir.ReadRequests(dir); err != nil || truncated || len(reqs) != 3 {
		t.Errorf("last newline missing: %d requests, truncated %v, err %v", len(reqs), truncated, err)
	}
}

func TestReadRequestsBadMiddleLine(t *testing.T) {
	dir := writeRequests(t, line(t, 0)+"{not json\n"+line(t, 2))
	_, _, err := resultsdir.ReadRequests(dir)
	want := fmt.Sprintf("%s:2:", filepath.Join(dir, resultsdir.RequestsFile))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one naming %s", err, want)
	}
}

func TestReadMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	if _, err := resultsdir.ReadRun(dir); err == nil || !strings.Contains(err.Error(), "run.json") {
		t.Errorf("ReadRun: %v", err)
	}
	if _, _, err := resultsdir.ReadRequests(dir); err == nil {
		t.Error("ReadRequests on a missing folder: nil error")
	}
}

func TestDir(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 15, 0, 0, time.FixedZone("CET", 3600))
	if got, want := resultsdir.Dir(func(string) string { return "" }, now), filepath.Join("results", "20261127T071500Z"); got != want {
		t.Errorf("default Dir = %q, want %q", got, want)
	}
	if got := resultsdir.Dir(func(k string) string { return map[string]string{resultsdir.EnvDir: "/x/y"}[k] }, now); got != "/x/y" {
		t.Errorf("Dir with %s = %q", resultsdir.EnvDir, got)
	}
}

// A run that measured nothing leaves no folder; one that measured a cell,
// or holds an engine's log, keeps it.
func TestRemoveUnmeasured(t *testing.T) {
	create := func(name string) (string, *resultsdir.Writer) {
		dir := filepath.Join(t.TempDir(), name)
		w, err := resultsdir.Create(dir, resultsdir.Run{Start: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return dir, w
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	empty, w := create("empty")
	w.Close()
	if gone, err := resultsdir.RemoveUnmeasured(empty); err != nil || !gone || exists(empty) {
		t.Errorf("unmeasured folder: gone %v, err %v, still there %v", gone, err, exists(empty))
	}

	withLog, w := create("log")
	w.Close()
	logFile := filepath.Join(withLog, "engine-vllm.log")
	if err := os.WriteFile(logFile, []byte("CUDA out of memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if gone, err := resultsdir.RemoveUnmeasured(withLog); err != nil || gone || !exists(logFile) || exists(filepath.Join(withLog, resultsdir.RunFile)) {
		t.Errorf("folder with an engine log: gone %v, err %v; want the log kept and run.json removed", gone, err)
	}

	measured, w := create("measured")
	if err := w.AddSummary(resultsdir.Key{Cell: "engine=sim/conc=1/workload=short"}, loadgen.Summary{Requests: 1}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if gone, err := resultsdir.RemoveUnmeasured(measured); err != nil || gone || !exists(filepath.Join(measured, resultsdir.SummaryFile)) {
		t.Errorf("measured folder: gone %v, err %v; want it kept", gone, err)
	}
}
