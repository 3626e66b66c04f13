package infbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/infbench/infbench/loadgen"
)

// Cell is one point of the matrix: an engine at one concurrency with one
// prompt category.
type Cell struct {
	Engine      string
	Concurrency int     // closed loop: requests in flight (0 for an open loop)
	Rate        float64 // open loop: requests per second (0 for a closed loop)
	Burstiness  float64 // open loop: gamma shape of the gaps (1: Poisson)
	MaxInFlight int     // open loop: cap on requests in flight
	Category    string
	Prompts     []string // the category's prompt texts, used in turn
	MaxTokens   int      // fixed output length: max_tokens with ignore_eos
	Requests    int      // measured requests
	Warmup      int      // requests before them, excluded
	Ramp        time.Duration
	SLO         loadgen.SLO
	Seed        uint64 // the run's seed: prompt salts, open-loop schedules
	// Rep is which repetition of the cell this is (0 for the first of
	// -count): with Seed and Rate it fixes an open loop's arrivals.
	Rep int
	// GiveUpAfter is the loops' give-up rule (loadgen.ClosedLoop): 0 the
	// default, negative off.
	GiveUpAfter int
}

// Name is the cell's benchmark name below BenchmarkServe.
func (c Cell) Name() string {
	return fmt.Sprintf("engine=%s/%s/prompt=%s", c.Engine, c.Load(), c.Category)
}

// Load is the load part of the name: conc=C, or rate=R for an open loop.
func (c Cell) Load() string {
	if c.Rate > 0 {
		return "rate=" + strconv.FormatFloat(c.Rate, 'g', -1, 64)
	}
	return fmt.Sprintf("conc=%d", c.Concurrency)
}

// Conns is how many connections the cell's client needs.
func (c Cell) Conns() int {
	if c.Rate > 0 {
		return c.MaxInFlight
	}
	return c.Concurrency
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
// nil, receives a line when the cell starts, every ten seconds, and at the
// end. A cell whose first requests all fail the same way stops at once
// (the give-up rule of package loadgen): its error says why, and so does
// a flag in its summary.
func RunCell(ctx context.Context, d loadgen.Doer, c Cell, salts *Salter, sink func(loadgen.Record), progress io.Writer) ([]loadgen.Record, loadgen.Summary, error) {
	if len(c.Prompts) == 0 {
		return nil, loadgen.Summary{}, fmt.Errorf("cell %s: no prompts", c.Name())
	}
	var loop loadgen.Loop = loadgen.ClosedLoop{Concurrency: c.Concurrency, Warmup: c.Warmup, Requests: c.Requests, Ramp: c.Ramp,
		GiveUpAfter: c.GiveUpAfter}
	load := fmt.Sprintf("concurrency %d", c.Concurrency)
	if c.Rate > 0 {
		// Every engine at this rate and repetition gets the same arrivals,
		// so that differences between engines are not differences in the
		// load offered; repetitions sample the arrival pattern.
		loop = loadgen.OpenLoop{Rate: c.Rate, Burstiness: c.Burstiness, Warmup: c.Warmup, Requests: c.Requests,
			MaxInFlight: c.MaxInFlight, Seed: loadgen.ScheduleSeed(c.Seed, c.Rate, c.Rep), GiveUpAfter: c.GiveUpAfter}
		load = fmt.Sprintf("%g requests/s (schedule %d of the run)", c.Rate, c.Rep)
	}
	var done, failed atomic.Int64
	total := c.Warmup + c.Requests
	start := time.Now()
	stop := make(chan struct{})
	if progress != nil {
		fmt.Fprintf(progress, "[infbench] %s: %d requests (+%d warmup) at %s\n", c.Name(), c.Requests, c.Warmup, load)
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
	var hopeless *loadgen.HopelessError
	if errors.As(err, &hopeless) {
		sum.Flags = append(sum.Flags, hopeless.Error())
	}
	if progress != nil {
		if hopeless != nil {
			fmt.Fprintf(progress, "[infbench] %s: %s, after %s\n", c.Name(), hopeless, time.Since(start).Round(time.Millisecond))
		} else {
			fmt.Fprintf(progress, "[infbench] %s: %d requests (+%d warmup) in %s: %.0f tok/s, TTFT p50 %s, %d failed\n",
				c.Name(), sum.Requests, c.Warmup, time.Since(start).Round(time.Millisecond), sum.OutputTokPerSec,
				time.Duration(sum.TTFT.P50).Round(time.Microsecond), sum.Failed)
		}
		for _, f := range sum.Flags {
			fmt.Fprintf(progress, "[infbench] %s: flag: %s\n", c.Name(), f)
		}
	}
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
