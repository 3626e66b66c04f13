package loadgen

import "time"

// accumulator gathers, record by record, what a Summary is computed from:
// counts and sums, and the samples of every distribution. Each quantity's
// definition (package documentation) is applied where its sample is
// taken: TTFT, E2E and TTFB in add, TPOT in Record.TPOT, ITL in itlSamples.
type accumulator struct {
	s Summary // counts and sums so far

	ttft, ttfb, e2e, tpot, itl, speed, outLen []float64
	sendLag, ttftSched, e2eSched, clientLag   []float64

	any, anyDone                           bool
	first, last                            time.Duration // first send, last completion
	firstSend, lastSend, firstDue, lastDue time.Duration // open loop
	seen                                   map[string]bool
	tokenSrc                               map[TokenSource]int
	itlSrc                                 map[ITLSource]int
	clocks                                 map[string]int
	minShort                               int
}

func newAccumulator(slo SLO) *accumulator {
	return &accumulator{
		s:        Summary{SLO: slo, Errors: map[ErrorKind]int{}},
		seen:     map[string]bool{},
		tokenSrc: map[TokenSource]int{},
		itlSrc:   map[ITLSource]int{},
		clocks:   map[string]int{},
		minShort: -1,
	}
}

// add takes one record: warmup is left out, a canceled request counted
// apart, a failed one counted by kind, a completed one sampled.
func (a *accumulator) add(r *Record) {
	if r.Warmup {
		return
	}
	if r.ErrorKind == KindCanceled {
		a.s.Canceled++
		return
	}
	a.s.Requests++
	a.sent(r)
	if !r.OK() {
		a.failed(r)
		return
	}
	a.completed(r)
}

// sent notes when a measured request was sent (and, open loop, due).
func (a *accumulator) sent(r *Record) {
	if !a.any || r.Sent < a.first {
		a.first = r.Sent
	}
	if r.Paced {
		a.s.Paced = true
		a.sendLag = append(a.sendLag, float64(r.Sent-r.Scheduled))
		if !a.any || r.Sent < a.firstSend {
			a.firstSend = r.Sent
		}
		if !a.any || r.Sent > a.lastSend {
			a.lastSend = r.Sent
		}
		if !a.any || r.Scheduled < a.firstDue {
			a.firstDue = r.Scheduled
		}
		if !a.any || r.Scheduled > a.lastDue {
			a.lastDue = r.Scheduled
		}
	}
	a.any = true
}

func (a *accumulator) failed(r *Record) {
	a.s.Failed++
	a.s.Errors[r.ErrorKind]++
	msg := string(r.ErrorKind) + ": " + r.Error
	if !a.seen[msg] && len(a.s.FirstErrors) < 5 {
		a.seen[msg] = true
		a.s.FirstErrors = append(a.s.FirstErrors, msg)
	}
}

func (a *accumulator) completed(r *Record) {
	s := &a.s
	s.Completed++
	// The load ends with the last completion: a request failing later (a
	// stall at the end of a cell) would stretch the duration without
	// adding a token.
	if end := r.Sent + r.End; !a.anyDone || end > a.last {
		a.last, a.anyDone = end, true
	}
	a.tokens(r)
	a.stamps(r)
	a.ttft = append(a.ttft, float64(r.TTFT))
	if r.Paced {
		wait := r.Sent - r.Scheduled
		a.ttftSched = append(a.ttftSched, float64(wait+r.TTFT))
		a.e2eSched = append(a.e2eSched, float64(wait+r.E2E))
	}
	a.ttfb = append(a.ttfb, float64(r.TTFB))
	a.e2e = append(a.e2e, float64(r.E2E))
	if t, ok := r.TPOT(); ok {
		a.tpot = append(a.tpot, float64(t))
		if t > 0 {
			a.speed = append(a.speed, float64(time.Second)/float64(t))
		}
	}
	a.itl = r.itlSamples(a.itl)
	if s.SLO.Met(r) {
		s.Good++
	}
}

// tokens adds a completed request's token counts and their sources.
func (a *accumulator) tokens(r *Record) {
	s := &a.s
	s.PromptTokens += r.PromptTokens
	if r.TokenSource == TokensFromChunks {
		s.PromptTokensUnknown++ // no usage: prompt tokens not 0 but unknown
	}
	s.OutputTokens += r.OutputTokens
	a.outLen = append(a.outLen, float64(r.OutputTokens))
	a.tokenSrc[r.TokenSource]++
	a.itlSrc[r.ITLSource]++
	if r.MaxTokens > 0 && r.OutputTokens < r.MaxTokens {
		s.ShortOutput++
		if a.minShort < 0 || r.OutputTokens < a.minShort {
			a.minShort = r.OutputTokens
		}
	}
}

// stamps adds how a completed request's events were stamped: the clock,
// the client's lag on each kernel-stamped event, and the shared reads.
func (a *accumulator) stamps(r *Record) {
	if r.Clock != "" {
		a.clocks[r.Clock]++
	}
	a.s.SharedStamps += r.SharedStamps
	a.s.ContentEvents += len(r.Events)
	// A kernel-stamped event carries its lag; a user-stamped one has
	// none to report (Lag 0). A "mixed" request has both.
	for _, e := range r.Events {
		if r.Clock == "kernel" || (r.Clock == ClockMixed && e.Lag > 0) {
			a.clientLag = append(a.clientLag, float64(e.Lag))
		}
	}
}

// itlSamples appends the request's ITL samples to xs: each gap between
// consecutive content events, as k samples of gap/k for an event
// carrying k tokens.
func (r *Record) itlSamples(xs []float64) []float64 {
	for j := 1; j < len(r.Events); j++ {
		gap := float64(r.Events[j].At - r.Events[j-1].At)
		k := r.Events[j].Tokens
		for range k {
			xs = append(xs, gap/float64(k))
		}
	}
	return xs
}

// derive turns the sums and samples into the Summary: error rate,
// duration, throughputs, distributions, the open loop's rates.
func (a *accumulator) derive() Summary {
	s := a.s
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Failed) / float64(s.Requests)
	}
	if a.anyDone {
		s.Duration = a.last - a.first
	}
	if sec := s.Duration.Seconds(); sec > 0 {
		s.OutputTokPerSec = float64(s.OutputTokens) / sec
		if s.PromptTokensUnknown == 0 {
			total := float64(s.OutputTokens+s.PromptTokens) / sec
			s.TotalTokPerSec = &total
		}
		s.ReqPerSec = float64(s.Completed) / sec
		s.GoodputReqPerS = float64(s.Good) / sec
	}
	s.TTFT, s.TTFB, s.E2E = NewDist(a.ttft), NewDist(a.ttfb), NewDist(a.e2e)
	s.TPOT, s.ITL, s.UserSpeed = NewDist(a.tpot), NewDist(a.itl), NewDist(a.speed)
	s.OutputLen = NewDist(a.outLen)
	if s.Paced {
		s.SendLag, s.TTFTFromSchedule, s.E2EFromSchedule = NewDist(a.sendLag), NewDist(a.ttftSched), NewDist(a.e2eSched)
		if span := (a.lastSend - a.firstSend).Seconds(); span > 0 && s.Requests > 1 {
			s.SentReqPerSec = float64(s.Requests-1) / span
		}
		if span := (a.lastDue - a.firstDue).Seconds(); span > 0 && s.Requests > 1 {
			s.DueReqPerSec = float64(s.Requests-1) / span
		}
	}
	s.TokenSource, s.ITLSource = oneOrMixed(a.tokenSrc), oneOrMixed(a.itlSrc)
	s.Clock, s.ClientLag = oneOrMixed(a.clocks), NewDist(a.clientLag)
	return s
}
