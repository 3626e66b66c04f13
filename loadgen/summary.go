package loadgen

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// SLO is a service-level objective for goodput; a zero field is no bound.
type SLO struct {
	TTFT time.Duration `yaml:"ttft" json:"ttft_ns,omitempty"`
	TPOT time.Duration `yaml:"tpot" json:"tpot_ns,omitempty"`
	E2E  time.Duration `yaml:"e2e" json:"e2e_ns,omitempty"`
}

// Met reports whether a completed record meets every bound. For an
// open-loop record TTFT and E2E count from when the request was due, so
// that time spent waiting to be sent counts against the SLO as it would
// for a user.
func (s SLO) Met(r *Record) bool {
	wait := time.Duration(0)
	if r.Paced {
		wait = r.Sent - r.Scheduled
	}
	if s.TTFT > 0 && wait+r.TTFT > s.TTFT {
		return false
	}
	if s.E2E > 0 && wait+r.E2E > s.E2E {
		return false
	}
	if tpot, ok := r.TPOT(); s.TPOT > 0 && ok && tpot > s.TPOT {
		return false
	}
	return true
}

// TPOT is (E2E − TTFT) / (output tokens − 1); ok is false with fewer than
// two output tokens.
func (r *Record) TPOT() (time.Duration, bool) {
	if r.OutputTokens < 2 || len(r.Events) == 0 {
		return 0, false
	}
	return (r.E2E - r.TTFT) / time.Duration(r.OutputTokens-1), true
}

// Summary holds every statistic of one cell's measured requests (warmup
// excluded). Latency distributions are in nanoseconds; UserSpeed in
// tokens/s; OutputLen in tokens. See the package documentation for the
// definitions.
type Summary struct {
	Requests  int            `json:"requests"` // measured requests that ran (not canceled)
	Completed int            `json:"completed"`
	Failed    int            `json:"failed"`
	Canceled  int            `json:"canceled,omitempty"` // cut off by the end of the run; not counted
	ErrorRate float64        `json:"error_rate"`         // Failed / Requests
	Errors    map[string]int `json:"errors,omitempty"`   // failures by kind
	// FirstErrors are the first distinct failure messages, at most 5.
	FirstErrors []string `json:"first_errors,omitempty"`

	Duration     time.Duration `json:"duration_ns"` // first send → last completion
	PromptTokens int           `json:"prompt_tokens"`
	OutputTokens int           `json:"output_tokens"`
	// Throughputs: totals over Duration, never averages of per-request rates.
	OutputTokPerSec float64 `json:"output_tok_per_s"`
	ReqPerSec       float64 `json:"req_per_s"`
	Good            int     `json:"good"` // completed requests meeting the SLO
	GoodputReqPerS  float64 `json:"goodput_req_per_s"`
	SLO             SLO     `json:"slo"`

	// TotalTokPerSec adds prompt tokens; nil (null) when a completed
	// request came without usage, so that its prompt tokens are unknown.
	TotalTokPerSec      *float64 `json:"total_tok_per_s"`
	PromptTokensUnknown int      `json:"prompt_tokens_unknown,omitempty"` // completed requests without usage

	TTFT      Dist `json:"ttft_ns"`
	TTFB      Dist `json:"ttfb_ns"`
	E2E       Dist `json:"e2e_ns"`
	TPOT      Dist `json:"tpot_ns"`
	ITL       Dist `json:"itl_ns"`
	UserSpeed Dist `json:"user_tok_per_s"`
	OutputLen Dist `json:"output_tokens_dist"`

	// Open loop only (Paced records): latency measured from the time each
	// request was due rather than sent, the lag between the two, and the
	// request rate the loop achieved (measured sends / their span).
	Paced            bool    `json:"paced,omitempty"`
	SendLag          Dist    `json:"send_lag_ns"`
	TTFTFromSchedule Dist    `json:"ttft_from_schedule_ns"`
	E2EFromSchedule  Dist    `json:"e2e_from_schedule_ns"`
	SentReqPerSec    float64 `json:"sent_req_per_s,omitempty"`
	// DueReqPerSec is the rate of the schedule itself over the same
	// requests (measured sends / the span of their due times).
	DueReqPerSec float64 `json:"due_req_per_s,omitempty"`

	// PeakInFlight is the most requests (warmup included) that were in
	// flight at once: the concurrency a closed loop reached.
	PeakInFlight int `json:"peak_in_flight"`

	// The client's own error, the harness's error bound: for every
	// content event of the completed requests, how long its bytes waited
	// in the kernel before the client read them (user-space stamp −
	// kernel receive stamp). Latencies are measured from the kernel stamp
	// and exclude it; it is what they would have included otherwise.
	// Empty where the kernel gave no stamps.
	ClientLag Dist `json:"client_lag_ns"`
	// Clock stamped the events: kernel, user (no receive timestamps:
	// latencies include the client's lag, unmeasured) or mixed.
	Clock string `json:"clock"`
	// SharedStamps counts content events that arrived in one read with
	// the event before them: both carry that read's stamp, the newest
	// bytes' arrival, so the earlier one's time is late by up to its lag.
	SharedStamps  int `json:"shared_stamps"`
	ContentEvents int `json:"content_events"`

	TokenSource string `json:"token_source"`  // usage, chunks or mixed
	ITLSource   string `json:"itl_source"`    // see Record.ITLSource; mixed if several
	ShortOutput int    `json:"short_outputs"` // completed with fewer tokens than max_tokens
	// Flags spell out everything that weakens a number: small samples,
	// short outputs, counted tokens, estimated ITL, errors.
	Flags []string `json:"flags,omitempty"`
}

// SharedStampsFlag is the share of content events arriving in one read
// with the event before them above which a cell is flagged. A server that
// flushes each event on its own sends them in separate packets; a client
// that keeps up reads them one by one. Above one in ten, the client (or a
// proxy batching writes) is behind often enough to matter.
const SharedStampsFlag = 0.10

// Summarize computes a Summary over the measured (non-warmup) records.
func Summarize(records []Record, slo SLO) Summary {
	s := Summary{SLO: slo, Errors: map[string]int{}}
	var (
		ttft, ttfb, e2e, tpot, itl, speed, outLen []float64
		lag, ttftSched, e2eSched, clientLag       []float64
		firstSend, lastSend, firstDue, lastDue    time.Duration
		first, last                               time.Duration
		seen                                      = map[string]bool{}
		tokenSrc, itlSrc, clocks                  = map[string]int{}, map[string]int{}, map[string]int{}
		minShort                                  = -1
	)
	any, anyDone := false, false
	for i := range records {
		r := &records[i]
		if r.Warmup {
			continue
		}
		if r.ErrorKind == ErrCanceled {
			s.Canceled++
			continue
		}
		s.Requests++
		if !any || r.Sent < first {
			first = r.Sent
		}
		if r.Paced {
			s.Paced = true
			lag = append(lag, float64(r.Sent-r.Scheduled))
			if !any || r.Sent < firstSend {
				firstSend = r.Sent
			}
			if !any || r.Sent > lastSend {
				lastSend = r.Sent
			}
			if !any || r.Scheduled < firstDue {
				firstDue = r.Scheduled
			}
			if !any || r.Scheduled > lastDue {
				lastDue = r.Scheduled
			}
		}
		any = true
		if !r.OK() {
			s.Failed++
			s.Errors[r.ErrorKind]++
			msg := r.ErrorKind + ": " + r.Error
			if !seen[msg] && len(s.FirstErrors) < 5 {
				seen[msg] = true
				s.FirstErrors = append(s.FirstErrors, msg)
			}
			continue
		}
		s.Completed++
		// The load ends with the last completion: a request failing
		// later (a stall at the end of a cell) would stretch the
		// duration without adding a token.
		if end := r.Sent + r.End; !anyDone || end > last {
			last, anyDone = end, true
		}
		s.PromptTokens += r.PromptTokens
		if r.TokenSource == TokensFromChunks {
			s.PromptTokensUnknown++ // no usage: prompt tokens not 0 but unknown
		}
		s.OutputTokens += r.OutputTokens
		tokenSrc[r.TokenSource]++
		itlSrc[r.ITLSource]++
		if r.Clock != "" {
			clocks[r.Clock]++
		}
		s.SharedStamps += r.SharedStamps
		s.ContentEvents += len(r.Events)
		if r.Clock == "kernel" {
			for _, e := range r.Events {
				clientLag = append(clientLag, float64(e.Lag))
			}
		}
		ttft = append(ttft, float64(r.TTFT))
		if r.Paced {
			ttftSched = append(ttftSched, float64(r.Sent-r.Scheduled+r.TTFT))
			e2eSched = append(e2eSched, float64(r.Sent-r.Scheduled+r.E2E))
		}
		ttfb = append(ttfb, float64(r.TTFB))
		e2e = append(e2e, float64(r.E2E))
		outLen = append(outLen, float64(r.OutputTokens))
		if r.MaxTokens > 0 && r.OutputTokens < r.MaxTokens {
			s.ShortOutput++
			if minShort < 0 || r.OutputTokens < minShort {
				minShort = r.OutputTokens
			}
		}
		if t, ok := r.TPOT(); ok {
			tpot = append(tpot, float64(t))
			if t > 0 {
				speed = append(speed, float64(time.Second)/float64(t))
			}
		}
		for j := 1; j < len(r.Events); j++ {
			gap := float64(r.Events[j].At - r.Events[j-1].At)
			k := r.Events[j].Tokens
			for range k {
				itl = append(itl, gap/float64(k))
			}
		}
		if slo.Met(r) {
			s.Good++
		}
	}
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Failed) / float64(s.Requests)
	}
	if anyDone {
		s.Duration = last - first
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
	s.TTFT, s.TTFB, s.E2E = NewDist(ttft), NewDist(ttfb), NewDist(e2e)
	s.TPOT, s.ITL, s.UserSpeed = NewDist(tpot), NewDist(itl), NewDist(speed)
	s.OutputLen = NewDist(outLen)
	if s.Paced {
		s.SendLag, s.TTFTFromSchedule, s.E2EFromSchedule = NewDist(lag), NewDist(ttftSched), NewDist(e2eSched)
		if span := (lastSend - firstSend).Seconds(); span > 0 && s.Requests > 1 {
			s.SentReqPerSec = float64(s.Requests-1) / span
		}
		if span := (lastDue - firstDue).Seconds(); span > 0 && s.Requests > 1 {
			s.DueReqPerSec = float64(s.Requests-1) / span
		}
	}
	s.PeakInFlight = peakInFlight(records)
	s.TokenSource, s.ITLSource = oneOrMixed(tokenSrc), oneOrMixed(itlSrc)
	s.Clock, s.ClientLag = oneOrMixed(clocks), NewDist(clientLag)

	if s.Completed < s.Requests || s.Requests == 0 {
		s.flag("%d of %d requests failed (%.1f%%): %s", s.Failed, s.Requests, 100*s.ErrorRate, s.errorList())
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
	if s.ShortOutput > 0 {
		s.flag("%d of %d requests stopped short of max_tokens (shortest %d tokens): output length was not fixed", s.ShortOutput, s.Completed, minShort)
	}
	if tokenSrc[TokensFromChunks] > 0 {
		s.flag("output tokens of %d requests counted from content events: the server sent no usage", tokenSrc[TokensFromChunks])
		s.flag("prompt tokens of %d requests unknown (no usage): total-tok/s left out", s.PromptTokensUnknown)
	}
	if tokenSrc[TokensUsageTooLow] > 0 {
		s.flag("usage.completion_tokens of %d requests was below their number of content events: the events were counted instead", tokenSrc[TokensUsageTooLow])
	}
	if itlSrc[ITLApportioned] > 0 {
		s.flag("ITL estimated for %d requests: events carried several tokens, apportioned by text length", itlSrc[ITLApportioned])
	}
	if s.Clock != "" && s.Clock != "kernel" {
		s.flag("events stamped in user space (clock: %s; kernel receive timestamps need Linux and plain http): latencies include the client's own delay in reading them, unmeasured", s.Clock)
	}
	if s.ContentEvents > 0 && float64(s.SharedStamps) > SharedStampsFlag*float64(s.ContentEvents) {
		s.flag("%d of %d content events (%.0f%%) arrived in one read with the event before them and carry its stamp: their times are late by up to the client's lag (client-lag p99 %v)",
			s.SharedStamps, s.ContentEvents, 100*float64(s.SharedStamps)/float64(s.ContentEvents), time.Duration(s.ClientLag.P99))
	}
	// Small samples: one line for the per-request distributions (they
	// share n), one for the pooled ITL when it is small too.
	if len(s.TTFT.Flags) > 0 {
		s.flag("few requests for the tail: ttft, tpot and e2e %s", strings.Join(s.TTFT.Flags, "; "))
	}
	if len(s.ITL.Flags) > 0 {
		s.flag("few ITL samples: %s", strings.Join(s.ITL.Flags, "; "))
	}
	return s
}

func (s *Summary) flag(format string, args ...any) {
	s.Flags = append(s.Flags, fmt.Sprintf(format, args...))
}

func (s *Summary) errorList() string {
	kinds := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, s.Errors[k])
	}
	if len(parts) == 0 {
		return "none sent"
	}
	return strings.Join(parts, ", ")
}

func oneOrMixed(m map[string]int) string {
	switch len(m) {
	case 0:
		return ""
	case 1:
		for k := range m {
			return k
		}
	}
	return "mixed"
}

// peakInFlight is the largest number of requests, warmup included and
// canceled ones not, whose [Sent, Sent+End] intervals overlap.
func peakInFlight(records []Record) int {
	type edge struct {
		at    time.Duration
		delta int
	}
	edges := make([]edge, 0, 2*len(records))
	for i := range records {
		r := &records[i]
		if r.ErrorKind == ErrCanceled {
			continue
		}
		edges = append(edges, edge{r.Sent, +1}, edge{r.Sent + r.End, -1})
	}
	// At equal times an end comes before a start: a closed loop's worker
	// sends its next request the moment the previous one ends.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}
