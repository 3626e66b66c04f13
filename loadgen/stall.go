package loadgen

import (
	"sync/atomic"
	"time"
)

// stallWatch cancels a request when no event has arrived for a while.
// Events only record their arrival (one atomic store, no clock read: the
// reader has stamped them already); the timer, when it fires, re-arms
// itself for the time that remains. Resetting a runtime timer on every
// event instead costs a trip through the timer heap at 50,000 events/s.
type stallWatch struct {
	start   time.Time
	limit   atomic.Int64 // current stall limit, ns
	last    atomic.Int64 // arrival of the latest event, ns since start
	stopped atomic.Bool
	timer   *time.Timer
	cancel  func()
}

func newStallWatch(limit time.Duration, cancel func()) *stallWatch {
	w := &stallWatch{start: time.Now(), cancel: cancel}
	w.limit.Store(int64(limit))
	w.timer = time.AfterFunc(limit, w.fire)
	return w
}

// touch records an event that arrived at at.
func (w *stallWatch) touch(at time.Time) { w.last.Store(int64(at.Sub(w.start))) }

func (w *stallWatch) fire() {
	if w.stopped.Load() {
		return
	}
	limit := time.Duration(w.limit.Load())
	if idle := time.Since(w.start) - time.Duration(w.last.Load()); idle < limit {
		w.timer.Reset(limit - idle)
		return
	}
	w.cancel()
}

func (w *stallWatch) stop() {
	w.stopped.Store(true)
	w.timer.Stop()
}
