package loadgen

import (
	"sort"
	"time"
)

// ErrorKind is why a request failed, as recorded in Record.ErrorKind
// (the JSON value is the string). A record with an empty kind completed.
type ErrorKind string

// The error kinds; see the package documentation ("Errors").
const (
	KindHTTP      ErrorKind = "http"      // non-2xx status; Error holds the body's message
	KindTransport ErrorKind = "transport" // connect failure, connection cut mid-stream
	KindMalformed ErrorKind = "malformed" // an event that is not the JSON we expect
	KindServer    ErrorKind = "server"    // an error object sent inside the stream
	KindStall     ErrorKind = "stall"     // no event within the stall timeout
	KindDeadline  ErrorKind = "deadline"  // the request deadline passed
	KindNoContent ErrorKind = "no-content"
	KindTruncated ErrorKind = "truncated" // the body ended before [DONE]
	KindCanceled  ErrorKind = "canceled"  // the run was stopped; not the server's fault
)

// TokenSource is where a request's output token count came from.
type TokenSource string

// ITLSource is how a request's tokens were assigned to its events, and
// so how exact its ITL samples are.
type ITLSource string

// Token and ITL sources recorded per request.
const (
	TokensFromUsage  TokenSource = "usage"  // usage.completion_tokens
	TokensFromChunks TokenSource = "chunks" // no usage sent: one token per content event
	// usage.completion_tokens was below the number of content events,
	// which cannot be: the events were counted instead.
	TokensUsageTooLow TokenSource = "chunks-usage-too-low"

	ITLPerChunkUsage ITLSource = "per-chunk-usage" // cumulative usage on every chunk (vLLM continuous_usage_stats)
	ITLOnePerEvent   ITLSource = "one-per-event"   // as many content events as tokens
	ITLApportioned   ITLSource = "apportioned"     // tokens spread over events by text length: estimated

	// ClockMixed: some of a request's events were stamped by the kernel,
	// some in user space.
	ClockMixed = "mixed"
)

// Record is everything measured about one request. Times are offsets on
// the monotonic clock: Sent from the run's start, the others from Sent.
// It is plain data, written as one JSON line per request.
type Record struct {
	Index  int  `json:"index"`
	Warmup bool `json:"warmup,omitempty"`
	// Session and Turn (1-based) place a multi-turn workload's request
	// in its conversation; zero for every other workload.
	Session int `json:"session,omitempty"`
	Turn    int `json:"turn,omitempty"`

	Sent time.Duration `json:"sent_ns"` // send time, from the start of the run
	// Paced records come from an open loop: Scheduled is when the request
	// was due, from the start of the run (Sent − Scheduled is the lag).
	Paced     bool          `json:"paced,omitempty"`
	Scheduled time.Duration `json:"scheduled_ns,omitempty"`
	TTFB      time.Duration `json:"ttfb_ns,omitempty"` // first response byte
	TTFT      time.Duration `json:"ttft_ns,omitempty"` // first content-bearing event
	E2E       time.Duration `json:"e2e_ns,omitempty"`  // last content-bearing event
	End       time.Duration `json:"end_ns"`            // the request finished: stream end or failure

	// Events are the content-bearing events in arrival order.
	Events []Event `json:"events,omitempty"`

	MaxTokens    int         `json:"max_tokens"`
	PromptTokens int         `json:"prompt_tokens,omitempty"`
	OutputTokens int         `json:"output_tokens"`
	TokenSource  TokenSource `json:"token_source,omitempty"`
	ITLSource    ITLSource   `json:"itl_source,omitempty"`
	Comments     int         `json:"comments,omitempty"` // SSE comment lines (keep-alives)

	// Clock stamped the events: "kernel" (the time the kernel received
	// their bytes), "user" (when the read returned: https, other OSes)
	// or "mixed".
	Clock string `json:"clock,omitempty"`
	// SharedStamps counts content events that arrived in the same read as
	// the one before them, and so carry its stamp.
	SharedStamps int `json:"shared_stamps,omitempty"`

	Status    int       `json:"status,omitempty"`
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	Error     string    `json:"error,omitempty"`

	// Text is the generated text, kept only when the request asked for
	// it (Request.KeepText: a multi-turn workload quotes it in the next
	// turn). It stays in memory: never written to requests.jsonl.
	Text string `json:"-"`
}

// Event is one content-bearing SSE event.
type Event struct {
	At     time.Duration `json:"t"` // arrival, from Record.Sent
	Tokens int           `json:"n"` // tokens it carries (see Record.ITLSource)
	Bytes  int           `json:"b"` // decoded text length
	// Lag is how long the event's bytes waited in the kernel before the
	// client read them (user-space stamp − kernel stamp; zero without a
	// kernel stamp): the client's own error on this event, already
	// excluded from At.
	Lag time.Duration `json:"lag,omitempty"`
}

// OK reports whether the request completed.
func (r *Record) OK() bool { return r.ErrorKind == "" }

// assignTokens sets Events[i].Tokens so that they add up to OutputTokens.
// perChunk holds the token counts derived from per-chunk usage, or nil.
func (r *Record) assignTokens(perChunk []int) {
	n := len(r.Events)
	if n == 0 {
		return
	}
	if perChunk != nil {
		sum := 0
		for _, k := range perChunk {
			sum += k
		}
		if sum == r.OutputTokens {
			for i := range r.Events {
				r.Events[i].Tokens = perChunk[i]
			}
			r.ITLSource = ITLPerChunkUsage
			return
		}
	}
	if n == r.OutputTokens {
		for i := range r.Events {
			r.Events[i].Tokens = 1
		}
		r.ITLSource = ITLOnePerEvent
		return
	}
	r.ITLSource = ITLApportioned
	apportion(r.Events, r.OutputTokens)
}

// apportion spreads total tokens over events in proportion to their text
// length (largest remainder), giving each event at least one token when
// there are enough.
func apportion(evs []Event, total int) {
	n := len(evs)
	bytes := 0
	for _, e := range evs {
		bytes += e.Bytes
	}
	share := make([]float64, n)
	given := 0
	for i := range evs {
		share[i] = float64(total) / float64(n)
		if bytes > 0 {
			share[i] = float64(total) * float64(evs[i].Bytes) / float64(bytes)
		}
		k := int(share[i])
		if k == 0 && total >= n {
			k = 1 // every content event carried at least one token
		}
		evs[i].Tokens = k
		given += k
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	// Hand out what is missing by largest remainder; take back any excess
	// (from the minimum of one) from the events with most tokens.
	sort.SliceStable(order, func(a, b int) bool {
		ra := share[order[a]] - float64(evs[order[a]].Tokens)
		rb := share[order[b]] - float64(evs[order[b]].Tokens)
		return ra > rb
	})
	for j := 0; given < total; j++ {
		evs[order[j%n]].Tokens++
		given++
	}
	for j := n - 1; given > total; j-- {
		if i := order[(j%n+n)%n]; evs[i].Tokens > 1 {
			evs[i].Tokens--
			given--
		}
	}
}
