package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Doer sends one request and measures it; *Client is the real one.
type Doer interface {
	Do(ctx context.Context, r Request, epoch time.Time) Record
}

// Loop is a load pattern: ClosedLoop or OpenLoop. Run drives d, building
// the i-th request with request(ctx, i) and passing every finished record to
// sink; it returns the records in index order.
type Loop interface {
	Run(ctx context.Context, d Doer, request func(ctx context.Context, i int) Request, sink func(Record)) ([]Record, error)
}

// ClosedLoop keeps exactly Concurrency requests in flight until Warmup +
// Requests have been sent. Warmup requests are the first ones sent; they
// run at the cell's concurrency and flow straight into the measured ones
// (no drain in between), so the first measured request starts on warm
// connections with the server already at its steady batch size.
type ClosedLoop struct {
	Concurrency int
	Warmup      int
	Requests    int // measured requests
	// Ramp spreads the workers' first requests evenly over this interval
	// instead of opening Concurrency connections at once. Zero: all at once.
	Ramp time.Duration
	// GiveUpAfter is the give-up rule: when the first GiveUpAfter requests
	// to finish (warmup included) all failed for one reason, the run
	// stops at once, the requests in flight are canceled, and Run returns
	// a *HopelessError. 0: Concurrency clamped to 2..8; negative: never.
	GiveUpAfter int
}

// Validate reports a loop that cannot run.
func (l ClosedLoop) Validate() error {
	switch {
	case l.Concurrency < 1:
		return fmt.Errorf("concurrency %d: must be at least 1", l.Concurrency)
	case l.Requests < 1:
		return fmt.Errorf("requests %d: must be at least 1", l.Requests)
	case l.Warmup < 0:
		return fmt.Errorf("warmup %d: must not be negative", l.Warmup)
	}
	return nil
}

// Run drives d with the loop. request(ctx, i) builds the i-th request (warmup
// included: i runs from 0 to Warmup+Requests-1); ctx is the loop's, which
// ends when ctx does or the give-up rule stops the loop, so a request
// builder that blocks must return when it ends. Every finished record,
// warmup or not, is passed to sink as soon as it completes (sink may be nil;
// it is called from many goroutines, one call at a time). Run returns the
// records in index order. When ctx is cancelled no new request starts, the
// ones in flight end with ErrorKind KindCanceled, and Run returns what it
// has with ctx's error; so it does when the give-up rule stops it, with a
// *HopelessError (errors.Is ErrHopeless).
func (l ClosedLoop) Run(ctx context.Context, d Doer, request func(ctx context.Context, i int) Request, sink func(Record)) ([]Record, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	total := l.Warmup + l.Requests
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	col := newCollector(total, l.Warmup, sink, giveUpAfter(l.GiveUpAfter, l.Concurrency, total), stop)
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		epoch  = time.Now()
		inFlow = l.Concurrency
	)
	if inFlow > total {
		inFlow = total
	}
	for w := 0; w < inFlow; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			if l.Ramp > 0 && w > 0 {
				t := time.NewTimer(time.Duration(int64(l.Ramp) * int64(w) / int64(inFlow)))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				col.add(ctx, i, d.Do(ctx, request(ctx, i), epoch))
			}
		}(w)
	}
	wg.Wait()
	return col.result(ctx)
}
