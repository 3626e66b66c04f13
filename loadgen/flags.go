package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// flagAll adds every flag that weakens a number of s, from what a saw.
func (s *Summary) flagAll(a *accumulator) {
	s.flagLoad()
	s.flagTokens(a)
	s.flagStamps()
	// Small samples: one line for the per-request distributions (they
	// share n), one for the pooled ITL when it is small too.
	if len(s.TTFT.Flags) > 0 {
		s.flag("few requests for the tail: ttft, tpot and e2e %s", strings.Join(s.TTFT.Flags, "; "))
	}
	if len(s.ITL.Flags) > 0 {
		s.flag("few ITL samples: %s", strings.Join(s.ITL.Flags, "; "))
	}
}

// flagLoad: failures, a held-back open loop, too few requests for the
// concurrency, cancellations.
func (s *Summary) flagLoad() {
	switch {
	case s.Requests == 0:
		s.flag("no measured request ran")
	case s.Completed < s.Requests:
		s.flag("%d of %d requests failed (%.1f%%): %s", s.Failed, s.Requests, 100*s.ErrorRate, s.ErrorList())
	}
	if s.Paced && s.DueReqPerSec > 0 && s.SentReqPerSec < 0.9*s.DueReqPerSec {
		s.flag("sent %.3g requests/s where the schedule asked for %.3g: the load was held back (the in-flight cap reached, or the client); latency from the schedule includes the wait",
			s.SentReqPerSec, s.DueReqPerSec)
	}
	if !s.Paced && s.Requests > 0 && s.Requests < 2*s.PeakInFlight {
		s.flag("only %d measured requests at concurrency %d: the ramp-up and the drain weigh as much as the steady state (use at least %d)",
			s.Requests, s.PeakInFlight, 4*s.PeakInFlight)
	}
	if s.Canceled > 0 {
		s.flag("%d requests canceled when the run stopped; not counted", s.Canceled)
	}
}

// flagTokens: short outputs, counted tokens, unknown prompt tokens,
// estimated ITL.
func (s *Summary) flagTokens(a *accumulator) {
	if s.ShortOutput > 0 {
		s.flag("%d of %d requests stopped short of max_tokens (shortest %d tokens): output length was not fixed", s.ShortOutput, s.Completed, a.minShort)
	}
	if n := a.tokenSrc[TokensFromChunks]; n > 0 {
		s.flag("output tokens of %d requests counted from content events: the server sent no usage", n)
		s.flag("prompt tokens of %d requests unknown (no usage): total-tok/s left out", s.PromptTokensUnknown)
	}
	if n := a.tokenSrc[TokensUsageTooLow]; n > 0 {
		s.flag("usage.completion_tokens of %d requests was below their number of content events: the events were counted instead", n)
	}
	if n := a.itlSrc[ITLApportioned]; n > 0 {
		s.flag("ITL estimated for %d requests: events carried several tokens, apportioned by text length", n)
	}
}

// flagStamps: a clock other than the kernel's, shared reads.
func (s *Summary) flagStamps() {
	if s.Clock != "" && s.Clock != "kernel" {
		s.flag("events stamped in user space (clock: %s; kernel receive timestamps need Linux and plain http): latencies include the client's own delay in reading them, unmeasured", s.Clock)
	}
	if s.ContentEvents > 0 && float64(s.SharedStamps) > SharedStampsFlag*float64(s.ContentEvents) {
		s.flag("%d of %d content events (%.0f%%) arrived in one read with the event before them and carry its stamp: their times are late by up to the client's lag (client-lag p99 %v)",
			s.SharedStamps, s.ContentEvents, 100*float64(s.SharedStamps)/float64(s.ContentEvents), time.Duration(s.ClientLag.P99))
	}
}

func (s *Summary) flag(format string, args ...any) {
	s.Flags = append(s.Flags, fmt.Sprintf(format, args...))
}
