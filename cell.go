package infbench

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// Cell is one point of the matrix: an engine at one concurrency with one
// prompt category.
type Cell struct {
	Engine      string
	Concurrency int
	Category    string
	Prompts     []string // the category's prompt texts, used in turn
	MaxTokens   int      // fixed output length: max_tokens with ignore_eos
	Requests    int      // measured requests
	Warmup      int      // requests before them, excluded
	Ramp        time.Duration
	SLO         loadgen.SLO
	Seed        uint64
}

// Name is the cell's benchmark name below BenchmarkServe.
func (c Cell) Name() string {
	return fmt.Sprintf("engine=%s/conc=%d/prompt=%s", c.Engine, c.Concurrency, c.Category)
}

// Salter numbers requests across a whole run so that no two requests of a
// run, repeated cells included, share a prompt prefix.
type Salter struct {
	seed uint64
	n    atomic.Uint64
}

// NewSalter returns a salter for a run seed.
func NewSalter(seed uint64) *Salter { return &Salter{seed: seed} }

// Next returns the next salt: a short line that starts every prompt, so
// automatic prefix caching (vLLM) and RadixAttention (SGLang) cannot serve
// a request's prefill from an earlier request.
func (s *Salter) Next() string {
	return fmt.Sprintf("[infbench %x-%d]\n", s.seed, s.n.Add(1))
}

// RunCell drives one cell against d and returns its records (warmup
// included, in send order) and the summary of the measured ones. Each
// record is passed to sink as it completes (nil: none). progress, if not
// nil, receives a line every ten seconds and at the end.
func RunCell(ctx context.Context, d loadgen.Doer, c Cell, salts *Salter, sink func(loadgen.Record), progress io.Writer) ([]loadgen.Record, loadgen.Summary, error) {
	if len(c.Prompts) == 0 {
		return nil, loadgen.Summary{}, fmt.Errorf("cell %s: no prompts", c.Name())
	}
	loop := loadgen.ClosedLoop{Concurrency: c.Concurrency, Warmup: c.Warmup, Requests: c.Requests, Ramp: c.Ramp}
	var done, failed atomic.Int64
	total := c.Warmup + c.Requests
	start := time.Now()
	stop := make(chan struct{})
	if progress != nil {
		go func() {
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					fmt.Fprintf(progress, "[infbench] %s: %d/%d requests done (%d failed), %s\n",
						c.Name(), done.Load(), total, failed.Load(), time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	records, err := loop.Run(ctx, d, func(i int) loadgen.Request {
		return loadgen.Request{Prompt: salts.Next() + c.Prompts[i%len(c.Prompts)], MaxTokens: c.MaxTokens}
	}, func(r loadgen.Record) {
		done.Add(1)
		if !r.OK() {
			failed.Add(1)
		}
		if sink != nil {
			sink(r)
		}
	})
	close(stop)
	sum := loadgen.Summarize(records, c.SLO)
	if c.Requests < 2*c.Concurrency {
		sum.Flags = append(sum.Flags, fmt.Sprintf("only %d measured requests at concurrency %d: the ramp-up and the drain weigh as much as the steady state (use at least %d)",
			c.Requests, c.Concurrency, 4*c.Concurrency))
	}
	if progress != nil {
		fmt.Fprintf(progress, "[infbench] %s: %d requests (+%d warmup) in %s: %.0f tok/s, TTFT p50 %s, %d failed\n",
			c.Name(), sum.Requests, c.Warmup, time.Since(start).Round(time.Millisecond), sum.OutputTokPerSec,
			time.Duration(sum.TTFT.P50).Round(time.Microsecond), sum.Failed)
		for _, f := range sum.Flags {
			fmt.Fprintf(progress, "[infbench] %s: flag: %s\n", c.Name(), f)
		}
	}
	if err != nil {
		return records, sum, fmt.Errorf("cell %s: %w", c.Name(), err)
	}
	if sum.Requests > 0 && sum.Completed == 0 {
		return records, sum, fmt.Errorf("cell %s: all %d requests failed; first errors: %v", c.Name(), sum.Requests, sum.FirstErrors)
	}
	return records, sum, nil
}
