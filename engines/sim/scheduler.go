package sim

import (
	"context"
	"sync"
	"time"
)

// seq is one request inside the simulated engine.
type seq struct {
	born         time.Time // when the handler made it
	promptTokens int
	target       int // tokens to generate

	prefillLeft int // prompt tokens not yet prefilled (scheduler only)

	// hold: the scheduler notifies the handler every second token
	// (a twin's merging under load; see Config.MergeAt).
	mu       sync.Mutex
	hold     bool
	produced int         // tokens generated so far
	stamps   []time.Time // when each token was produced
	done     bool
	notify   chan struct{} // capacity 1: "produced changed"
	gone     chan struct{} // closed by the handler when the client left
}

func newSeq(prompt, target int) *seq {
	return &seq{born: time.Now(), promptTokens: prompt, target: target, prefillLeft: prompt,
		notify: make(chan struct{}, 1), gone: make(chan struct{})}
}

// progress returns the tokens produced so far and whether the sequence is
// finished.
func (s *seq) progress() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.produced, s.done
}

func (s *seq) left() bool {
	select {
	case <-s.gone:
		return true
	default:
		return false
	}
}

// scheduler models continuous batching: every step, waiting sequences join
// the running batch while there is room (MaxBatch) and prefill budget
// (MaxPrefill tokens per step, chunked prefill); each running sequence whose
// prompt is prefilled produces one token; finished sequences leave at once.
type scheduler struct {
	timing     Timing
	maxBatch   int
	maxPrefill int
	in         chan *seq

	mergeAt int // merge tokens when the batch holds at least this many (0: never)

	mu      sync.Mutex
	running int // for /metrics and tests
	waiting int
	peak    int
	totals  totals
}

// totals are the scheduler's counters and last-step state for the twins'
// /metrics and SGLang's health check.
type totals struct {
	context    int       // tokens held by the running batch after the last step
	prompt     int       // prompt tokens prefilled, all time
	generated  int       // tokens generated, all time
	finished   int       // sequences finished, all time
	lastOutput time.Time // when a step last produced a token
}

func (sc *scheduler) counters() totals {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.totals
}

func (sc *scheduler) stats() (running, waiting, peak int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.running, sc.waiting, sc.peak
}

func (sc *scheduler) run(ctx context.Context) {
	var running, waiting []*seq
	next := time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if len(running) == 0 && len(waiting) == 0 {
			select {
			case s := <-sc.in:
				waiting = append(waiting, s)
			case <-ctx.Done():
				return
			}
			next = time.Now()
		}
	drain:
		for {
			select {
			case s := <-sc.in:
				waiting = append(waiting, s)
			default:
				break drain
			}
		}
		running = dropGone(running)
		waiting = dropGone(waiting)

		// Admit, then plan this step's prefill.
		for len(waiting) > 0 && len(running) < sc.maxBatch {
			running = append(running, waiting[0])
			waiting = waiting[1:]
		}
		var step Step
		budget := sc.maxPrefill
		for _, s := range running {
			step.Context += s.promptTokens - s.prefillLeft + s.produced
			if s.prefillLeft > 0 {
				n := min(s.prefillLeft, budget)
				step.Prefill += n
				budget -= n
			} else {
				step.Decode++
			}
		}
		sc.mu.Lock()
		sc.running, sc.waiting = len(running), len(waiting)
		sc.peak = max(sc.peak, len(running))
		sc.mu.Unlock()
		if len(running) == 0 {
			continue
		}

		// Run the step: sleep until its absolute end so that timer
		// latency does not accumulate from step to step.
		next = next.Add(sc.timing.StepTime(step))
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else {
			next = time.Now()
		}
		now := time.Now()

		// Apply it.
		budget = sc.maxPrefill
		kept := running[:0]
		merge := sc.mergeAt > 0 && len(running) >= sc.mergeAt
		var t totals
		for _, s := range running {
			emit := false
			if s.prefillLeft > 0 {
				n := min(s.prefillLeft, budget)
				s.prefillLeft -= n
				budget -= n
				t.prompt += n
				emit = s.prefillLeft == 0 // prefill ends with the first token
			} else {
				emit = true
			}
			finished := false
			if emit {
				s.mu.Lock()
				s.produced++
				s.stamps = append(s.stamps, now)
				finished = s.produced >= s.target
				s.done = finished
				s.hold = merge && !s.hold && !finished
				hold := s.hold
				s.mu.Unlock()
				t.generated++
				if !hold {
					select {
					case s.notify <- struct{}{}:
					default:
					}
				}
			}
			if !finished {
				kept = append(kept, s)
				t.context += s.promptTokens - s.prefillLeft + s.produced
			} else {
				t.finished++
			}
		}
		running = kept
		// Finished sequences have left: /metrics must not go on showing
		// them while the scheduler waits for the next request.
		sc.mu.Lock()
		sc.running = len(running)
		sc.totals.context = t.context
		sc.totals.prompt += t.prompt
		sc.totals.generated += t.generated
		sc.totals.finished += t.finished
		if t.generated > 0 {
			sc.totals.lastOutput = now
		}
		sc.mu.Unlock()
	}
}

func dropGone(ss []*seq) []*seq {
	kept := ss[:0]
	for _, s := range ss {
		if !s.left() {
			kept = append(kept, s)
		}
	}
	return kept
}
