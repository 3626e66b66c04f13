// Package simtest is the shared test helper for simulator cells: a
// simulated engine on loopback, a client for it, and a cell recorded into
// a results folder the way BenchmarkServe records one. Tests of every
// package use it instead of setting the three up by hand; it is not part
// of the harness.
package simtest

import (
	"context"
	"testing"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/resultsdir"
)

// Start runs a simulated engine with cfg on a loopback port until the
// test ends and returns its base URL.
func Start(tb testing.TB, cfg sim.Config) string {
	tb.Helper()
	l, err := sim.Listen(tb.Context(), "127.0.0.1:0", cfg)
	if err != nil {
		tb.Fatalf("starting the simulator: %v", err)
	}
	tb.Cleanup(l.Close)
	return l.URL
}

// Client returns a chat client for model at url, sized for conns
// connections, sending ignore_eos and asking for usage as the simulator's
// engine spec does; it is closed when the test ends.
func Client(tb testing.TB, url, model string, conns int) *loadgen.Client {
	tb.Helper()
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: url, Model: model, API: loadgen.Chat, IgnoreEOS: true, IncludeUsage: true}, conns)
	if err != nil {
		tb.Fatalf("client for %s: %v", url, err)
	}
	tb.Cleanup(c.Close)
	return c
}

// Record runs c against d as BenchmarkServe does — each record appended to
// w's requests.jsonl as it completes, then the summary to summary.json —
// and returns what the cell returned (ctx may stop it). Its error is the
// test's to judge; sink, if not nil, sees every record too.
func Record(ctx context.Context, tb testing.TB, w *resultsdir.Writer, d loadgen.Doer, c cell.Cell, salts *cell.Salter, sink func(loadgen.Record)) ([]loadgen.Record, loadgen.Summary, error) {
	tb.Helper()
	key, write := w.Begin(c)
	c.Rep = key.Rep
	recs, sum, err := cell.Run(ctx, d, c, salts, func(r loadgen.Record) {
		write(r)
		if sink != nil {
			sink(r)
		}
	}, nil)
	if werr := w.AddSummary(key, sum); werr != nil {
		tb.Fatalf("recording %s: %v", c.Name(), werr)
	}
	return recs, sum, err
}
