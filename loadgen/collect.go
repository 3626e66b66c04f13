package loadgen

import (
	"context"
	"fmt"
	"sync"
)

// collector gathers the records of one run, for both loops: it labels
// each with its index and phase, stores it, passes it to the sink as it
// completes, and hands back the started ones in index order.
type collector struct {
	warmup  int
	sink    func(Record)
	mu      sync.Mutex
	records []Record
	started []bool
}

func newCollector(total, warmup int, sink func(Record)) *collector {
	return &collector{warmup: warmup, sink: sink, records: make([]Record, total), started: make([]bool, total)}
}

// add records the i-th request's result. A request cut off by the end of
// the run is not the server's failure; one that failed on its own (an HTTP
// error, a malformed event) stays what it was.
func (c *collector) add(ctx context.Context, i int, rec Record) {
	rec.Index = i
	rec.Warmup = i < c.warmup
	if ctx.Err() != nil && (rec.ErrorKind == ErrTransport || rec.ErrorKind == ErrStall || rec.ErrorKind == ErrDeadline) {
		rec.ErrorKind = ErrCanceled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records[i], c.started[i] = rec, true
	if c.sink != nil {
		c.sink(rec)
	}
}

// result returns the started records in index order and, when ctx ended
// the run early, an error saying how far it got.
func (c *collector) result(ctx context.Context) ([]Record, error) {
	out := c.records[:0]
	for i := range c.records {
		if c.started[i] {
			out = append(out, c.records[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("run stopped after %d of %d requests: %w", len(out), len(c.records), context.Cause(ctx))
	}
	return out, nil
}
