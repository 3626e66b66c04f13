package loadgen

import (
	"fmt"
	"slices"
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
	Requests  int               `json:"requests"` // measured requests that ran (not canceled)
	Completed int               `json:"completed"`
	Failed    int               `json:"failed"`
	Canceled  int               `json:"canceled,omitempty"` // cut off by the end of the run; not counted
	ErrorRate float64           `json:"error_rate"`         // Failed / Requests
	Errors    map[ErrorKind]int `json:"errors,omitempty"`   // failures by kind
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

	// Multi-turn workloads only (records with a turn; nil, and left out
	// of summary.json, otherwise): TTFT of each session's first turn, and
	// of its later turns, which send the conversation so far and may find
	// it in the prefix cache; and TTFT per turn number, turn 1 first
	// (a turn no record reached has n 0).
	TTFTTurn1  *Dist      `json:"ttft_turn1_ns,omitempty"`
	TTFTLater  *Dist      `json:"ttft_later_ns,omitempty"`
	TTFTByTurn []TurnDist `json:"ttft_by_turn_ns,omitempty"`
	// InputTokens says how the workload's input lengths were made:
	// "tokenized by POST /tokenize" (the engine's own tokenizer) or
	// "estimated (...)"; empty for a workload of fixed texts.
	InputTokens string `json:"input_tokens,omitempty"`

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

// Summarize computes a Summary over the measured (non-warmup) records in
// three steps: accumulate the records (accumulate.go), derive the
// distributions and rates from the sums, and flag what weakens them
// (flags.go).
func Summarize(records []Record, slo SLO) Summary {
	a := newAccumulator(slo)
	for i := range records {
		a.add(&records[i])
	}
	s := a.derive()
	s.PeakInFlight = peakInFlight(records)
	s.turnTTFT(records)
	s.flagAll(a)
	return s
}

// ErrorList is the failures by kind, "stall 3, http 1", sorted by kind.
func (s *Summary) ErrorList() string {
	kinds := make([]ErrorKind, 0, len(s.Errors))
	for k := range s.Errors {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, s.Errors[k])
	}
	if len(parts) == 0 {
		return "none sent"
	}
	return strings.Join(parts, ", ")
}

func oneOrMixed[K ~string](m map[K]int) string {
	switch len(m) {
	case 0:
		return ""
	case 1:
		for k := range m {
			return string(k)
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
		if r.ErrorKind == KindCanceled {
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
