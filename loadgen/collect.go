package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// collector gathers the records of one run, for both loops: it labels
// each with its index and phase, stores it, passes it to the sink as it
// completes, and hands back the started ones in index order. It also
// applies the give-up rule (see GiveUpAfter): when the first decide
// requests to finish all failed for one reason, it stops the run with a
// *HopelessError.
type collector struct {
	warmup  int
	sink    func(Record)
	mu      sync.Mutex
	records []Record
	started []bool

	decide   int                     // finished requests the rule looks at; 0: off
	finished int                     // of them, how many have finished
	same     bool                    // all failed, for one reason
	hopeless HopelessError           // that reason, while same
	stop     context.CancelCauseFunc // ends the run
}

func newCollector(total, warmup int, sink func(Record), decide int, stop context.CancelCauseFunc) *collector {
	return &collector{warmup: warmup, sink: sink, records: make([]Record, total), started: make([]bool, total),
		decide: decide, same: true, stop: stop}
}

// ErrHopeless is matched by the error of a loop that gave up early (see
// HopelessError).
var ErrHopeless = errors.New("loadgen: the first requests all failed the same way")

// HopelessError is the cause of a run stopped by the give-up rule: its
// first Failed requests to finish all failed for Reason.
type HopelessError struct {
	Failed  int
	Reason  string // the error kind; for http, the status class, e.g. "http 5xx"
	Example string // the first one's error message
}

func (e *HopelessError) Error() string {
	return fmt.Sprintf("stopped early: the first %d requests to finish all failed with %s (%s): fix the server or the target and rerun",
		e.Failed, e.Reason, e.Example)
}

// Is makes errors.Is(err, ErrHopeless) true.
func (e *HopelessError) Is(target error) bool { return target == ErrHopeless }

// giveUpAfter is the number of first-finished requests the give-up rule
// looks at: n when positive, none when negative, else the load's
// concurrency clamped to 2..8; never more than the run's requests.
func giveUpAfter(n, conc, total int) int {
	if n < 0 {
		return 0
	}
	if n == 0 {
		n = min(max(conc, 2), 8)
	}
	return min(n, total)
}

// reason is what the give-up rule compares: the error kind, and for an
// HTTP error its status class.
func reason(r *Record) string {
	if r.ErrorKind == KindHTTP && r.Status >= 100 {
		return fmt.Sprintf("http %dxx", r.Status/100)
	}
	return string(r.ErrorKind)
}

// judge applies the give-up rule to one more finished record; c.mu is held.
func (c *collector) judge(rec *Record) {
	if c.decide == 0 || c.finished >= c.decide || rec.ErrorKind == KindCanceled {
		return
	}
	c.finished++
	switch {
	case rec.OK():
		c.same = false
	case c.finished == 1:
		c.hopeless = HopelessError{Reason: reason(rec), Example: rec.Error}
	case reason(rec) != c.hopeless.Reason:
		c.same = false
	}
	if c.same && c.finished == c.decide {
		c.hopeless.Failed = c.finished
		h := c.hopeless
		c.stop(&h)
	}
}

// add records the i-th request's result. A request cut off by the end of
// the run is not the server's failure; one that failed on its own (an HTTP
// error, a malformed event) stays what it was.
func (c *collector) add(ctx context.Context, i int, rec Record) { c.addAs(ctx, i, i, rec) }

// addAs records the i-th request's result under the index index (a
// shard's arrival keeps its index in the whole schedule).
func (c *collector) addAs(ctx context.Context, i, index int, rec Record) {
	rec.Index = index
	rec.Warmup = i < c.warmup
	if ctx.Err() != nil && (rec.ErrorKind == KindTransport || rec.ErrorKind == KindStall || rec.ErrorKind == KindDeadline) {
		rec.ErrorKind = KindCanceled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records[i], c.started[i] = rec, true
	c.judge(&rec)
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
