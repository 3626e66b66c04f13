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

	// text is the rendered prompt (promptText) and hashes its full
	// blocks' hash chain, for the prefix cache; counted says a generation
	// handler made the sequence (Server.inFlight counts it).
	text    string
	hashes  []blockHash
	counted bool

	prefillLeft int  // prompt tokens not yet prefilled (scheduler only)
	admitting   bool // joined the running batch this step (scheduler only)

	// hold: the scheduler notifies the handler every second token
	// (a twin's merging under load; see Config.MergeAt).
	mu       sync.Mutex
	hold     bool
	cached   int         // prompt tokens the prefix cache held at admission
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

// newTextSeq is a sequence whose prompt renders to text, so that the
// prefix cache can look it up and keep it.
func newTextSeq(text string, prompt, target int) *seq {
	s := newSeq(prompt, target)
	s.text, s.hashes = text, blockHashes(text)
	return s
}

// fullText is the sequence's text once finished: its prompt and the
// tokens it generated, as the stream sent them (Token).
func (s *seq) fullText() string {
	b := make([]byte, 0, len(s.text)+8*s.target)
	b = append(b, s.text...)
	for i := range s.target {
		b = append(b, Token(i)...)
	}
	return string(b)
}

// progress returns the tokens produced so far and whether the sequence is
// finished.
func (s *seq) progress() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.produced, s.done
}

// cachedTokens is how many prompt tokens the prefix cache served.
func (s *seq) cachedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cached
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
	cache   *prefixCache

	mu       sync.Mutex
	running  int // for /metrics and tests
	waiting  int
	peak     int
	inFlight int // generation handlers' sequences not finished (enter, leave)
	peakIn   int // the most inFlight has been
	totals   totals
}

// totals are the scheduler's counters and last-step state for the twins'
// /metrics and SGLang's health check.
type totals struct {
	context    int       // tokens held by the running batch after the last step
	prompt     int       // prompt tokens of the sequences whose prefill ended, cached ones included, all time
	prefilled  int       // prompt tokens computed (not served by the prefix cache), all time
	generated  int       // tokens generated, all time
	finished   int       // sequences finished, all time
	lastOutput time.Time // when a step last produced a token

	// The prefix cache, in tokens (vLLM's prefix_cache_queries and
	// prefix_cache_hits): the prompt tokens of the sequences admitted
	// while the cache is on, and those of them it held.
	cacheQueries, cacheHits int
	cachedBlocks            int // blocks in the cache after the last step
	// sglangHitRate is SGLang's sglang:cache_hit_rate gauge: the hit rate
	// of the last step that admitted sequences, 0 after every
	// sglangDecodeLogInterval-th step that only decoded
	// (twin_sglang.go).
	sglangHitRate float64
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

// enter counts a generation handler's sequence in flight from before it
// is handed to the scheduler; the scheduler lets it leave when it
// finishes or its client has gone, before the handler sends its last
// chunk, so that a closed loop of C clients never shows more than C.
func (sc *scheduler) enter(s *seq) {
	s.counted = true
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.inFlight++
	sc.peakIn = max(sc.peakIn, sc.inFlight)
}

// leave ends what enter began, for n sequences.
func (sc *scheduler) leave(n int) {
	if n == 0 {
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.inFlight -= n
}

// peakInFlight is the most sequences generation handlers have had in
// flight at once since start.
func (sc *scheduler) peakInFlight() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.peakIn
}

func (sc *scheduler) run(ctx context.Context) {
	var running, waiting []*seq
	decodeSteps := 0 // steps that admitted nothing and decoded, for sglangHitRate
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
		var gone int
		running, gone = dropGone(running, gone)
		waiting, gone = dropGone(waiting, gone)
		sc.leave(gone)

		// Admit, then plan this step's prefill. An admitted sequence's
		// prompt tokens the prefix cache holds skip prefill. The blocks a
		// step prefills enter the cache as it is planned, so a sequence
		// planned after another in the same step hits on them, as in
		// vLLM ("If an allocated block is already full of tokens, we
		// immediately add it to the cache block, so that the block can be
		// reused by other requests in the same batch",
		// docs/design/prefix_caching.md).
		admitted := 0
		for len(waiting) > 0 && len(running) < sc.maxBatch {
			waiting[0].admitting = true
			admitted++
			running = append(running, waiting[0])
			waiting = waiting[1:]
		}
		var step Step
		var queried, hit int
		budget := sc.maxPrefill
		for _, s := range running {
			if s.admitting && sc.cache.on() {
				cached := sc.cache.lookup(s.hashes, s.promptTokens)
				s.prefillLeft = s.promptTokens - cached
				queried += s.promptTokens
				hit += cached
				s.mu.Lock()
				s.cached = cached
				s.mu.Unlock()
			}
			s.admitting = false
			step.Context += s.promptTokens - s.prefillLeft + s.produced
			if s.prefillLeft > 0 {
				n := min(s.prefillLeft, budget)
				step.Prefill += n
				budget -= n
				if n > 0 { // the blocks this step's prefill completes
					computed := (s.promptTokens - s.prefillLeft + n) / CacheBlockTokens
					sc.cache.insert(s.hashes[:min(len(s.hashes), computed)])
				}
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
		var wake, ended []*seq // handlers to notify, sequences finished, once the step's totals are out
		left := 0
		for _, s := range running {
			emit := false
			if s.prefillLeft > 0 {
				n := min(s.prefillLeft, budget)
				s.prefillLeft -= n
				budget -= n
				t.prefilled += n
				emit = s.prefillLeft == 0 // prefill ends with the first token
				if emit {
					t.prompt += s.promptTokens
				}
			} else {
				emit = true
			}
			finished := false
			if emit {
				s.mu.Lock()
				s.produced++
				s.stamps = append(s.stamps, now)
				finished = s.produced >= s.target // done is set once the step is published
				s.hold = merge && !s.hold && !finished
				hold := s.hold
				s.mu.Unlock()
				t.generated++
				if finished {
					ended = append(ended, s)
					if s.counted {
						left++
					}
				}
				if !hold {
					wake = append(wake, s)
				}
			}
			if !finished {
				kept = append(kept, s)
				t.context += s.promptTokens - s.prefillLeft + s.produced
			} else {
				t.finished++
				if sc.cache.on() {
					sc.cache.insert(appendBlockHashes(s.hashes[:len(s.hashes):len(s.hashes)], s.fullText())) // and now its output's
				}
			}
		}
		running = kept
		if admitted > 0 {
			// SGLang's log_prefill_stats: hit / (new + hit) tokens of the
			// sequences this step admitted.
			t.sglangHitRate = float64(hit) / float64(max(1, queried))
		} else if step.Decode > 0 {
			decodeSteps++
		}
		// Finished sequences have left: /metrics must not go on showing
		// them while the scheduler waits for the next request. The totals
		// and the in-flight count are updated before any handler can see
		// a sequence done (done is set after them), so that a client that
		// has its whole answer sees them in /metrics, and a closed loop's
		// next request never counts twice.
		sc.mu.Lock()
		sc.running = len(running)
		sc.inFlight -= left
		sc.totals.context = t.context
		sc.totals.prompt += t.prompt
		sc.totals.prefilled += t.prefilled
		sc.totals.generated += t.generated
		sc.totals.finished += t.finished
		sc.totals.cacheQueries += queried
		sc.totals.cacheHits += hit
		sc.totals.cachedBlocks = sc.cache.len()
		switch {
		case admitted > 0:
			sc.totals.sglangHitRate = t.sglangHitRate
		case step.Decode > 0 && decodeSteps%sglangDecodeLogInterval == 0:
			sc.totals.sglangHitRate = 0 // log_decode_stats sets cache_hit_rate = 0.0
		}
		if t.generated > 0 {
			sc.totals.lastOutput = now
		}
		sc.mu.Unlock()
		for _, s := range ended {
			s.mu.Lock()
			s.done = true
			s.mu.Unlock()
		}
		for _, s := range wake {
			select {
			case s.notify <- struct{}{}:
			default:
			}
		}
	}
}

// dropGone removes the sequences whose client has left and adds those
// that counted in flight to gone.
func dropGone(ss []*seq, gone int) ([]*seq, int) {
	kept := ss[:0]
	for _, s := range ss {
		if !s.left() {
			kept = append(kept, s)
		} else if s.counted {
			gone++
		}
	}
	return kept, gone
}
