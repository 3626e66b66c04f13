package cell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// Run drives c against d and returns its records (warmup included, in
// send order) and the summary of the measured ones. Each record is passed
// to sink as it completes (nil: none). progress, if not nil, receives a
// line when the cell starts, every ten seconds, and at the end. A cell
// whose first requests all fail the same way stops at once (the give-up
// rule of package loadgen): its error says why, and so does a flag in its
// summary.
func Run(ctx context.Context, d loadgen.Doer, c Cell, salts *Salter, sink func(loadgen.Record), progress io.Writer) ([]loadgen.Record, loadgen.Summary, error) {
	src := c.Src()
	if c.Rate > 0 && src.ClosedLoopOnly() {
		return nil, loadgen.Summary{}, fmt.Errorf("cell %s: workload %s runs in a closed loop only (each turn waits for the previous answer): give it a concurrency, not a rate", c.Name(), c.Workload)
	}
	// A shard prepares its share, from a seed of its own (ShareOf,
	// shardSeed), and what the run shares from RunSeed. An open-loop
	// shard asks for request k, its arrival's index in the whole
	// schedule (Numbering.Index, Numbering.Local). An empty share
	// (Loop's idle) opens nothing: a multi-turn workload cannot open at
	// concurrency 0.
	sh := ShareOf(c, c.Shard)
	loop, load := c.Loop()
	var reqs Requests = noRequests{}
	if _, empty := loop.(idle); !empty {
		open := Open{Salts: salts, Total: sh.Warmup + sh.Requests, Seed: shardSeed(c.Seed, c.Shard), Concurrency: sh.Concurrency,
			RunSeed: c.Seed, Cell: c.Name(), Rep: c.Rep, Numbering: NumberingOf(c, c.Shard)}
		if tk, ok := d.(Tokenizer); ok && tk.Tokenizer() != "" {
			open.Tokenizer = tk
		}
		var err error
		if reqs, err = src.Open(ctx, open); err != nil {
			return nil, loadgen.Summary{}, fmt.Errorf("cell %s: workload %s: %w", c.Name(), c.Workload, err)
		}
	}
	t := newTally(c, progress)
	t.started(load)
	records, err := loop.Run(ctx, doneDoer{d, reqs}, func(ctx context.Context, i int) loadgen.Request {
		// The loop's context: it ends when the give-up rule stops the
		// loop, so a request waiting for a think time ends with it.
		return reqs.Request(ctx, i)
	}, func(r loadgen.Record) {
		t.add(r)
		if sink != nil {
			sink(r)
		}
	})
	sum := loadgen.Summarize(records, c.SLO)
	sum.InputTokens = reqs.InputTokens()
	if sum.InputTokens != "" && progress != nil {
		fmt.Fprintf(progress, "[infbench] %s: input lengths %s\n", c.Name(), sum.InputTokens)
	}
	var hopeless *loadgen.HopelessError
	if errors.As(err, &hopeless) {
		sum.Flags = append(sum.Flags, hopeless.Error())
	}
	t.ended(sum, hopeless)
	switch {
	case hopeless != nil:
		return records, sum, fmt.Errorf("cell %s: %w", c.Name(), hopeless)
	case err != nil:
		return records, sum, fmt.Errorf("cell %s: %w", c.Name(), err)
	case sum.Requests > 0 && sum.Completed == 0:
		return records, sum, fmt.Errorf("cell %s: all %d requests failed; first errors: %v", c.Name(), sum.Requests, sum.FirstErrors)
	}
	return records, sum, nil
}

// tally counts a running cell's requests and writes its progress lines.
type tally struct {
	c            Cell
	w            io.Writer // nil: no progress lines
	start        time.Time
	done, failed atomic.Int64
	stop         chan struct{}
}

func newTally(c Cell, w io.Writer) *tally {
	return &tally{c: c, w: w, start: time.Now(), stop: make(chan struct{})}
}

func (t *tally) add(r loadgen.Record) {
	t.done.Add(1)
	if !r.OK() {
		t.failed.Add(1)
	}
}

// started writes the first line and one every ten seconds after it.
func (t *tally) started(load string) {
	if t.w == nil {
		return
	}
	sh := ShareOf(t.c, t.c.Shard) // a shard's lines count its share
	fmt.Fprintf(t.w, "[infbench] %s: %d requests (+%d warmup) at %s\n", t.c.Name(), sh.Requests, sh.Warmup, load)
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				fmt.Fprintf(t.w, "[infbench] %s: %d/%d requests done (%d failed), %s\n",
					t.c.Name(), t.done.Load(), sh.Warmup+sh.Requests, t.failed.Load(), time.Since(t.start).Round(time.Second))
			}
		}
	}()
}

// ended stops the ticker and writes the outcome and every flag.
func (t *tally) ended(sum loadgen.Summary, hopeless *loadgen.HopelessError) {
	close(t.stop)
	if t.w == nil {
		return
	}
	name := t.c.Name()
	if hopeless != nil {
		fmt.Fprintf(t.w, "[infbench] %s: %s, after %s\n", name, hopeless, time.Since(t.start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(t.w, "[infbench] %s: %d requests (+%d warmup) in %s: %.0f tok/s, TTFT p50 %s, %d failed\n",
			name, sum.Requests, ShareOf(t.c, t.c.Shard).Warmup, time.Since(t.start).Round(time.Millisecond), sum.OutputTokPerSec,
			time.Duration(sum.TTFT.P50).Round(time.Microsecond), sum.Failed)
	}
	for _, f := range sum.Flags {
		fmt.Fprintf(t.w, "[infbench] %s: flag: %s\n", name, f)
	}
}

// doneDoer passes every finished record to the workload's Requests
// before the worker that sent it builds its next request.
type doneDoer struct {
	d    loadgen.Doer
	reqs Requests
}

func (x doneDoer) Do(ctx context.Context, r loadgen.Request, epoch time.Time) loadgen.Record {
	rec := x.d.Do(ctx, r, epoch)
	x.reqs.Done(rec)
	return rec
}

// noRequests is an empty share's Requests: its loop asks for none.
type noRequests struct{}

func (noRequests) Request(context.Context, int) loadgen.Request { return loadgen.Request{} }
func (noRequests) Done(loadgen.Record)                          {}
func (noRequests) InputTokens() string                          { return "" }
