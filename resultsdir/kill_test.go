package resultsdir_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// TestKilledRunKeepsWhatItMeasured stops a cell midway, as an interrupt
// would, while cell.Run drives a slow simulator on loopback, and
// reads the folder back before the Writer is closed (a killed process
// never closes it): every request that finished is in requests.jsonl,
// byte for byte as the sink saw it, and summary.json is valid before and
// after the partial cell's summary is added.
func TestKilledRunKeepsWhatItMeasured(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	url := simtest.Start(t, sim.Config{Model: "slow", Timing: sim.Linear{Base: 15 * time.Millisecond, PerSeq: time.Millisecond}})
	client := simtest.Client(t, url, "slow", 4)

	dir := t.TempDir()
	w, err := resultsdir.Create(dir, resultsdir.Run{Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	cl := cell.Cell{Engine: "slow", Concurrency: 4, Workload: "short", Prompts: []string{"Say something."},
		MaxTokens: 16, Requests: 40, Warmup: 2, Seed: 1}
	// The sink the run gets: the Writer's, and a copy of every record for
	// the comparison. The run is stopped after 10 requests have finished.
	key, write := w.Begin(cl)
	var (
		mu   sync.Mutex
		seen []loadgen.Record
	)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sink := func(r loadgen.Record) {
		write(r)
		mu.Lock()
		seen = append(seen, r)
		if len(seen) == 10 {
			stop()
		}
		mu.Unlock()
	}
	recs, sum, err := cell.Run(runCtx, client, cl, cell.NewSalter(1), sink, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunCell after cancel: err = %v, want context.Canceled", err)
	}
	if len(recs) >= cl.Warmup+cl.Requests {
		t.Fatalf("the run finished all %d requests before it was stopped: make the simulator slower", len(recs))
	}

	// summary.json is valid while the cell runs (empty) ...
	if s, err := resultsdir.ReadSummaries(dir); err != nil || len(s.Cells) != 0 {
		t.Fatalf("summary.json during the cell: %+v, %v", s, err)
	}
	// ... and after its partial summary is added.
	if err := w.AddSummary(key, sum); err != nil {
		t.Fatal(err)
	}

	got, truncated, err := resultsdir.ReadRequests(dir)
	if err != nil || truncated {
		t.Fatalf("ReadRequests: truncated %v, err %v", truncated, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(seen) {
		t.Fatalf("requests.jsonl holds %d lines; the sink saw %d records", len(got), len(seen))
	}
	byIndex := map[int]resultsdir.Request{}
	for _, q := range got {
		if q.Key != key {
			t.Errorf("line for request %d has key %+v, want %+v", q.Index, q.Key, key)
		}
		byIndex[q.Index] = q
	}
	completed := 0
	for _, r := range seen {
		q, ok := byIndex[r.Index]
		if !ok {
			t.Errorf("request %d (%s) is missing from requests.jsonl", r.Index, r.ErrorKind)
			continue
		}
		want, _ := json.Marshal(r)
		have, _ := json.Marshal(q.Record)
		if string(want) != string(have) {
			t.Errorf("request %d reads back as\n%s\nwant\n%s", r.Index, have, want)
		}
		if r.OK() && !r.Warmup {
			completed++
		}
	}
	if completed < 5 {
		t.Errorf("only %d measured requests completed before the stop; the test needs several", completed)
	}

	s, err := resultsdir.ReadSummaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cells) != 1 {
		t.Fatalf("summary.json holds %d cells, want 1", len(s.Cells))
	}
	ps := s.Cells[0].Summary
	if ps.Completed != completed || ps.Completed != sum.Completed {
		t.Errorf("partial summary: %d completed, want %d (the completed measured lines in requests.jsonl)", ps.Completed, completed)
	}
	if ps.Canceled == 0 {
		t.Errorf("partial summary counts no canceled request; flags %q", ps.Flags)
	}
	if ps.OutputTokPerSec <= 0 || ps.TTFT.N != completed {
		t.Errorf("partial summary: %.1f tok/s, TTFT n=%d; want numbers from the %d completed requests", ps.OutputTokPerSec, ps.TTFT.N, completed)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
