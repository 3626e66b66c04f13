package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
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
}

// Request is one generation request.
type Request struct {
	Prompt    string
	MaxTokens int
}

// Client sends streaming requests and measures them. It is safe for
// concurrent use; all requests share one http.Client with an idle pool sized
// for the concurrency, so connections are reused rather than re-dialled.
type Client struct {
	target Target
	url    string
	http   *http.Client
	stall  time.Duration
	limit  time.Duration
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
// concurrency (or an open loop's MaxInFlight).
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
	if conns < 1 {
		conns = 1
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		// At most conns connections: a request waits for one to come
		// back to the pool rather than dial another. After [DONE] the
		// body is drained behind Do (see there), and the transport returns
		// the connection asynchronously, so without the cap the next
		// request would often race it and open a fresh one.
		MaxConnsPerHost: conns,
		IdleConnTimeout: 90 * time.Second,
		// Compression would make the transport buffer the stream.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
		ReadBufferSize:     16 << 10,
		WriteBufferSize:    16 << 10,
	}
	c := &Client{
		target: t,
		url:    strings.TrimRight(t.BaseURL, "/") + t.API.path(),
		http:   &http.Client{Transport: tr},
		stall:  60 * time.Second,
		limit:  10 * time.Minute,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

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
	if t.API == Completions {
		m["prompt"] = r.Prompt
	} else {
		m["messages"] = []map[string]string{{"role": "user", "content": r.Prompt}}
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
func (c *Client) Do(ctx context.Context, r Request, epoch time.Time) (rec Record) {
	rec = Record{MaxTokens: r.MaxTokens}
	body, err := c.Body(r)
	if err != nil {
		rec.ErrorKind, rec.Error = ErrMalformed, "encoding request: "+err.Error()
		return rec
	}

	ctx, cancel := context.WithCancelCause(ctx)
	ctx, cancelT := context.WithTimeoutCause(ctx, c.limit, errDeadline)
	stall := newStallWatch(c.stall, func() { cancel(errStall) })
	var respBody io.ReadCloser // once there is a response
	release := func() {
		stall.stop()
		if respBody != nil {
			_ = respBody.Close()
		}
		cancelT()
		cancel(nil)
	}
	handedOff := false // after [DONE], a goroutine drains the body and releases
	defer func() {
		if !handedOff {
			release()
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		rec.ErrorKind, rec.Error = ErrTransport, err.Error()
		return rec
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range c.target.Headers {
		req.Header.Set(k, v)
	}

	sent := time.Now()
	rec.Sent = sent.Sub(epoch)
	defer func() {
		if rec.End == 0 {
			rec.End = time.Since(sent)
		}
	}()
	resp, err := c.http.Do(req)
	if err != nil {
		c.fail(ctx, &rec, ErrTransport, err)
		return rec
	}
	respBody = resp.Body
	rec.TTFB = time.Since(sent) // response headers are the first bytes
	rec.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		// Drain a longer body (up to 64 KiB) so that a storm of 429s or
		// 503s reuses connections instead of re-dialling each time.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		rec.ErrorKind = ErrHTTP
		rec.Error = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, errorMessage(msg))
		return rec
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		rec.ErrorKind = ErrMalformed
		rec.Error = fmt.Sprintf("HTTP %d with Content-Type %s, not an event stream: does the server honour \"stream\": true? body: %s",
			resp.StatusCode, ct, truncate(bytes.TrimSpace(msg), 300))
		return rec
	}

	sse := NewSSEReader(resp.Body, nil)
	var (
		ch       Chunk
		perChunk []int // tokens per content event from cumulative usage
		lastCum  int
		haveCum  = c.target.ContinuousUsage
		usage    *Chunk
		last     Chunk
	)
	done := false
	for {
		ev, err := sse.Next()
		if err != nil {
			if err == io.EOF {
				break
			}
			kind := ErrTransport
			if errors.Is(err, ErrLineTooLong) {
				kind = ErrMalformed
			}
			c.fail(ctx, &rec, kind, err)
			rec.Comments = sse.Comments()
			c.finish(&rec, sse, sent, usage, nil)
			return rec
		}
		stall.touch(ev.At)
		if err := ParseChunk(ev.Data, &ch); err != nil {
			rec.ErrorKind = ErrMalformed
			rec.Error = fmt.Sprintf("%v in event %q", err, truncate(ev.Data, 200))
			c.finish(&rec, sse, sent, usage, nil)
			return rec
		}
		if ch.Done {
			// The request ends here, and Do returns now so that the loop
			// can send the next one. A goroutine drains what follows (the
			// chunked terminator) so the connection returns to the pool;
			// a server that keeps the body open gets drainTimeout before
			// the stall timer cuts the connection.
			done = true
			rec.End = ev.At.Sub(sent)
			handedOff = true
			stall.shorten(drainTimeout)
			go func() {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				release()
			}()
			break
		}
		if ch.IsError {
			rec.ErrorKind, rec.Error = ErrServer, "error event: "+ch.ErrorMessage
			c.finish(&rec, sse, sent, usage, nil)
			return rec
		}
		if ch.ContentBytes > 0 {
			rec.Events = append(rec.Events, Event{At: ev.At.Sub(sent), Bytes: ch.ContentBytes})
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
	rec.Comments = sse.Comments()
	if !haveCum {
		perChunk = nil
	}
	c.finish(&rec, sse, sent, usage, perChunk)
	switch {
	case !done:
		// Every OpenAI-compatible server ends a stream with [DONE]; a body
		// that ends before it was cut short, however cleanly.
		rec.ErrorKind, rec.Error = ErrTruncated, fmt.Sprintf("stream ended without [DONE] after %d content events", len(rec.Events))
	case len(rec.Events) == 0 && r.MaxTokens > 0:
		rec.ErrorKind, rec.Error = ErrNoContent, "stream ended without a content-bearing event"
	}
	return rec
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
func (c *Client) fail(ctx context.Context, rec *Record, kind string, err error) {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStall):
		rec.ErrorKind = ErrStall
		rec.Error = fmt.Sprintf("no event for %v (stall timeout)", c.stall)
		return
	case errors.Is(cause, errDeadline):
		rec.ErrorKind = ErrDeadline
		rec.Error = fmt.Sprintf("request not finished within %v", c.limit)
		return
	case cause != nil:
		rec.ErrorKind, rec.Error = ErrCanceled, cause.Error()
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
