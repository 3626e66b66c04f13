package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/infbench/infbench/loadgen/streamhttp"
)

// API selects the OpenAI-compatible endpoint.
type API string

const (
	Chat        API = "chat"        // POST /v1/chat/completions, one user message
	Completions API = "completions" // POST /v1/completions, a prompt
)

// ParseAPI accepts "chat" or "completions".
func ParseAPI(s string) (API, error) {
	switch API(s) {
	case Chat, Completions:
		return API(s), nil
	}
	return "", fmt.Errorf("unknown API %q: use chat or completions", s)
}

func (a API) path() string {
	if a == Completions {
		return "/v1/completions"
	}
	return "/v1/chat/completions"
}

// Target is the server under test and the request fields it accepts.
// Engines differ: TensorRT-LLM answers HTTP 400 to fields it does not know,
// so an engine sends only what it declares here.
type Target struct {
	BaseURL string // http://host:port, without /v1
	Model   string
	API     API

	IgnoreEOS       bool // send "ignore_eos": true so outputs run to max_tokens
	IncludeUsage    bool // send stream_options.include_usage
	ContinuousUsage bool // send stream_options.continuous_usage_stats (vLLM)
	// Extra fields merged into every request body.
	Extra map[string]any
	// Headers added to every request (an API key). Never logged.
	Headers map[string]string
	// TokenizePath is the engine's tokenize route (POST {"model",
	// "prompt"} → {"count", ...}, vLLM's and SGLang's shape), or "" where
	// it has none: see Client.Tokenize.
	TokenizePath string
}

// Request is one generation request.
type Request struct {
	Prompt    string
	MaxTokens int
	// Messages, when set, is the conversation a chat request sends
	// instead of one user message of Prompt (a multi-turn workload);
	// a completions request still sends Prompt, which then holds the
	// conversation's text.
	Messages []Message
	// KeepText asks Do to keep the generated text in Record.Text (in
	// memory only), for a workload whose next request quotes it.
	KeepText bool
	// Session and Turn (1-based) place the request in a multi-turn
	// session; both are copied to its Record. Zero: not multi-turn.
	Session, Turn int
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // user or assistant
	Content string `json:"content"`
}

// Client sends streaming requests and measures them. It is safe for
// concurrent use; requests share a pool of connections sized for the
// concurrency, so connections are reused rather than re-dialled. It reads
// responses with streamhttp rather than net/http so that every event
// carries the time its bytes arrived (see the package documentation).
type Client struct {
	target Target
	path   string
	header http.Header
	tr     *streamhttp.Transport
	stall  time.Duration
	limit  time.Duration
	drain  time.Duration  // bound on reading the rest of a body after [DONE]
	drains sync.WaitGroup // those reads, running behind Do
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithStallTimeout fails a request that receives no event for d (default
// 60 s), counting from the send: comment lines (": ping") do not count.
func WithStallTimeout(d time.Duration) ClientOption { return func(c *Client) { c.stall = d } }

// WithRequestTimeout bounds a whole request, send to end of stream (default 10 min).
func WithRequestTimeout(d time.Duration) ClientOption { return func(c *Client) { c.limit = d } }

// NewClient returns a client for t sized for conns concurrent requests:
// it opens at most conns connections, so conns must be at least the
// concurrency (or an open loop's MaxInFlight). A request beyond them waits
// for a connection to come back rather than dial another.
func NewClient(t Target, conns int, opts ...ClientOption) (*Client, error) {
	if t.BaseURL == "" {
		return nil, errors.New("loadgen: target has no base URL")
	}
	if t.API == "" {
		t.API = Chat
	}
	if _, err := ParseAPI(string(t.API)); err != nil {
		return nil, err
	}
	base := strings.TrimRight(t.BaseURL, "/")
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("loadgen: target URL %q: %w", t.BaseURL, err)
	}
	tr, err := streamhttp.New(u.Scheme+"://"+u.Host, conns, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "text/event-stream")
	for k, v := range t.Headers {
		h.Set(k, v)
	}
	c := &Client{
		target: t,
		path:   u.Path + t.API.path(),
		header: h,
		tr:     tr,
		stall:  60 * time.Second,
		limit:  10 * time.Minute,
		drain:  drainTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Close waits for the reads still draining bodies after [DONE] (each
// bounded by the drain timeout) and closes every connection.
func (c *Client) Close() {
	c.drains.Wait()
	c.tr.Close()
}

// Clock is the clock that stamps this client's events where the server
// lets it: "kernel" (receive timestamps) or "user" (https, other OSes).
// Each record says which clock stamped its own events.
func (c *Client) Clock() streamhttp.Clock { return c.tr.Clock() }

// Body returns the JSON request body for r.
func (c *Client) Body(r Request) ([]byte, error) {
	t := c.target
	m := make(map[string]any, 8+len(t.Extra))
	for k, v := range t.Extra {
		m[k] = v
	}
	m["model"] = t.Model
	m["stream"] = true
	m["max_tokens"] = r.MaxTokens
	switch {
	case t.API == Completions:
		m["prompt"] = r.Prompt
	case len(r.Messages) > 0:
		m["messages"] = r.Messages
	default:
		m["messages"] = []Message{{Role: "user", Content: r.Prompt}}
	}
	if t.IgnoreEOS {
		m["ignore_eos"] = true
	}
	if t.IncludeUsage || t.ContinuousUsage {
		so := map[string]bool{"include_usage": true}
		if t.ContinuousUsage {
			so["continuous_usage_stats"] = true
		}
		m["stream_options"] = so
	}
	return json.Marshal(m)
}

var (
	errStall    = errors.New("stall")
	errDeadline = errors.New("deadline")
)

// Do sends r and measures it. epoch is the run's start: Record.Sent is
// measured from it. Do never panics on a bad server and always returns a
// record; failures are in Record.ErrorKind and Record.Error.
//
// It runs in three steps, one function each: send (the request out, the
// response head back), response (statuses that carry no stream) and
// stream (the events, each stamped when its bytes arrived).
func (c *Client) Do(ctx context.Context, r Request, epoch time.Time) (rec Record) {
	rec = Record{MaxTokens: r.MaxTokens, Session: r.Session, Turn: r.Turn}
	body, err := c.Body(r)
	if err != nil {
		rec.ErrorKind, rec.Error = KindMalformed, "encoding request: "+err.Error()
		return rec
	}
	ctx, cancel := context.WithCancelCause(ctx)
	ctx, cancelT := context.WithTimeoutCause(ctx, c.limit, errDeadline)
	stall := newStallWatch(c.stall, func() { cancel(errStall) })
	end := func() {
		stall.stop()
		cancelT()
		cancel(nil)
	}

	resp, sent := c.send(ctx, body, epoch, &rec)
	if resp == nil {
		end()
		return rec
	}
	if !c.response(resp, &rec) {
		resp.Body.Finish(64<<10, c.drain)
		end()
		return rec
	}
	if c.stream(ctx, resp.Body, sent, stall, r.KeepText, &rec) {
		// At [DONE] the request is over and Do returns, so that the loop
		// can send the next one; the chunked terminator behind it is read
		// in the background, and the connection goes back to the pool.
		c.drains.Go(func() {
			resp.Body.Finish(64<<10, c.drain)
			end()
		})
		return rec
	}
	_ = resp.Body.Close()
	end()
	return rec
}

// send writes the request and reads the response head. It returns nil
// when the request failed (rec says why).
func (c *Client) send(ctx context.Context, body []byte, epoch time.Time, rec *Record) (*streamhttp.Response, time.Time) {
	resp, sent, err := c.tr.Do(ctx, streamhttp.Request{Method: http.MethodPost, Path: c.path, Header: c.header, Body: body})
	if sent.IsZero() {
		sent = time.Now()
	}
	rec.Sent = sent.Sub(epoch)
	if err != nil {
		rec.End = time.Since(sent)
		c.fail(ctx, rec, KindTransport, err)
		return nil, sent
	}
	rec.TTFB = resp.Head.At().Sub(sent) // response headers are the first bytes
	rec.Status = resp.StatusCode
	return resp, sent
}

// response checks that resp is an event stream. It fills rec and returns
// false for a non-2xx status or a non-streaming answer.
func (c *Client) response(resp *streamhttp.Response, rec *Record) bool {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		rec.End = rec.TTFB
		rec.ErrorKind = KindHTTP
		rec.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, errorMessage(msg))
		return false
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		rec.End = rec.TTFB
		rec.ErrorKind = KindMalformed
		rec.Error = fmt.Sprintf("HTTP %d with Content-Type %s, not an event stream: does the server honour \"stream\": true? body: %s",
			resp.StatusCode, ct, truncate(bytes.TrimSpace(msg), 300))
		return false
	}
	return true
}

// stream reads the events of body into rec. It returns true when the
// stream ended with [DONE] and the rest of the body still has to be read.
func (c *Client) stream(ctx context.Context, body *streamhttp.Body, sent time.Time, stall *stallWatch, keepText bool, rec *Record) bool {
	sse := NewSSEReader(body, nil)
	var (
		ch       Chunk
		perChunk []int // tokens per content event from cumulative usage
		lastCum  int
		haveCum  = c.target.ContinuousUsage
		usage    *Chunk
		last     Chunk
		lastRead uint64
		clocks   [2]bool // kernel, user
	)
	defer func() {
		rec.Comments = sse.Comments()
		rec.Clock = clockOf(clocks)
		if rec.End == 0 {
			rec.End = time.Since(sent)
		}
	}()
	for {
		ev, err := sse.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			kind := KindTransport
			if errors.Is(err, ErrLineTooLong) {
				kind = KindMalformed
			}
			c.fail(ctx, rec, kind, err)
			c.finish(rec, sse, sent, usage, nil)
			return false
		}
		stall.touch(ev.At)
		if err := ParseChunk(ev.Data, &ch); err != nil {
			rec.ErrorKind = KindMalformed
			rec.Error = fmt.Sprintf("%v in event %q", err, truncate(ev.Data, 200))
			c.finish(rec, sse, sent, usage, nil)
			return false
		}
		if ch.Done {
			rec.End = ev.At.Sub(sent)
			c.finish(rec, sse, sent, usage, cumulative(haveCum, perChunk))
			if len(rec.Events) == 0 && rec.MaxTokens > 0 {
				rec.ErrorKind, rec.Error = KindNoContent, "stream ended without a content-bearing event"
			}
			return true
		}
		if ch.IsError {
			rec.ErrorKind, rec.Error = KindServer, "error event: "+ch.ErrorMessage
			c.finish(rec, sse, sent, usage, nil)
			return false
		}
		if ch.ContentBytes > 0 {
			lag := ev.Stamp.Lag()
			if ev.Stamp.Clock() == streamhttp.ClockKernel {
				clocks[0] = true
			} else {
				clocks[1] = true
			}
			if len(rec.Events) > 0 && ev.Stamp.Seq == lastRead {
				rec.SharedStamps++
			}
			lastRead = ev.Stamp.Seq
			rec.Events = append(rec.Events, Event{At: ev.At.Sub(sent), Bytes: ch.ContentBytes, Lag: lag})
			if keepText {
				rec.Text += contentText(ev.Data)
			}
			if haveCum {
				if !ch.HasUsage {
					haveCum = false
				} else {
					perChunk = append(perChunk, ch.CompletionTokens-lastCum)
				}
			}
		}
		if ch.HasUsage {
			lastCum = ch.CompletionTokens
			last = ch
			usage = &last
		}
	}
	c.finish(rec, sse, sent, usage, cumulative(haveCum, perChunk))
	// Every OpenAI-compatible server ends a stream with [DONE]; a body
	// that ends before it was cut short, however cleanly.
	rec.ErrorKind, rec.Error = KindTruncated, fmt.Sprintf("stream ended without [DONE] after %d content events", len(rec.Events))
	return false
}

func cumulative(ok bool, perChunk []int) []int {
	if !ok {
		return nil
	}
	return perChunk
}

// clockOf names the clocks that stamped a request's content events.
func clockOf(seen [2]bool) string {
	switch {
	case seen[0] && seen[1]:
		return ClockMixed
	case seen[0]:
		return string(streamhttp.ClockKernel)
	case seen[1]:
		return string(streamhttp.ClockUser)
	}
	return ""
}

// drainTimeout bounds the wait for the end of the body after [DONE].
const drainTimeout = 250 * time.Millisecond

// finish fills the derived fields from what was received.
func (c *Client) finish(rec *Record, sse *SSEReader, sent time.Time, usage *Chunk, perChunk []int) {
	if fb := sse.FirstByte(); rec.TTFB == 0 && !fb.IsZero() {
		rec.TTFB = fb.Sub(sent)
	}
	if n := len(rec.Events); n > 0 {
		rec.TTFT = rec.Events[0].At
		rec.E2E = rec.Events[n-1].At
	}
	if usage != nil {
		rec.PromptTokens = usage.PromptTokens
	}
	switch {
	case usage != nil && usage.CompletionTokens > 0 && usage.CompletionTokens < len(rec.Events):
		// Fewer tokens than content events cannot be: every content event
		// carries at least one token. Count the events, and say so.
		rec.OutputTokens = len(rec.Events)
		rec.TokenSource = TokensUsageTooLow
	case usage != nil && usage.CompletionTokens > 0:
		rec.OutputTokens = usage.CompletionTokens
		rec.TokenSource = TokensFromUsage
	default:
		rec.OutputTokens = len(rec.Events)
		rec.TokenSource = TokensFromChunks
	}
	rec.assignTokens(perChunk)
}

// fail classifies err using the cause recorded on ctx.
func (c *Client) fail(ctx context.Context, rec *Record, kind ErrorKind, err error) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStall):
		rec.ErrorKind = KindStall
		rec.Error = fmt.Sprintf("no event for %v (stall timeout)", c.stall)
		return
	case errors.Is(cause, errDeadline):
		rec.ErrorKind = KindDeadline
		rec.Error = fmt.Sprintf("request not finished within %v", c.limit)
		return
	case cause != nil:
		rec.ErrorKind, rec.Error = KindCanceled, cause.Error()
		return
	}
	rec.ErrorKind, rec.Error = kind, err.Error()
}

// errorMessage extracts "message" or "error.message" or "detail" from an
// error body, or returns the body itself.
func errorMessage(body []byte) string {
	var v struct {
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		if v.Message != "" {
			return v.Message
		}
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &e) == nil && e.Message != "" {
			return e.Message
		}
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return s
		}
		if len(v.Detail) > 0 {
			return string(truncate(v.Detail, 500))
		}
	}
	return string(truncate(bytes.TrimSpace(body), 500))
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(append([]byte{}, b[:n]...), "…"...)
	}
	return b
}

// contentText decodes the generated text of an event's first choice
// (delta.content for chat, text for completions; reasoning text is not
// part of the answer a conversation quotes). It runs only for requests
// that ask for their text (Request.KeepText), after the event was stamped.
func contentText(data []byte) string {
	var v struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			Text string `json:"text"`
		} `json:"choices"`
	}
	if json.Unmarshal(data, &v) != nil || len(v.Choices) == 0 {
		return ""
	}
	return v.Choices[0].Delta.Content + v.Choices[0].Text
}
