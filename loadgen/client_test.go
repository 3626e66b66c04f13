package loadgen

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infbench/infbench/loadgen/streamhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

func chatChunk(content string) string {
	b, _ := json.Marshal(content)
	return `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":` + string(b) + `},"finish_reason":null}]}`
}

func newTestClient(t *testing.T, url string, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(Target{BaseURL: url, Model: "m", API: Chat, IgnoreEOS: true, IncludeUsage: true}, 4, opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// Timing truth: the script server records when each of its writes began
// and returned. With kernel receive stamps an event's time is the moment
// the kernel took in the newest bytes of the read that completed it, and on
// loopback the kernel stamps bytes inside the sender's write. So the
// measured time can be no earlier than the event's own write began, and no
// later than the return of the last write that began before the client's
// read returned (got + lag): a late read may also have taken in later
// writes, and then carries the newest one's stamp. No tolerance either
// way, however busy the machine. With user-space stamps (no kernel stamps
// here) only the lower bound holds.
func assertWithin(t *testing.T, name, clock string, got time.Time, lag time.Duration, own int, writes [][2]time.Time) {
	t.Helper()
	assert.False(t, got.Before(writes[own][0]), "%s measured %v before the server's write began", name, writes[own][0].Sub(got))
	if clock != "kernel" {
		return
	}
	read := got.Add(lag)
	upper := writes[own][1]
	for _, w := range writes[own:] {
		if !w[0].After(read) {
			upper = w[1]
		}
	}
	assert.False(t, got.After(upper), "%s: kernel stamp %v after the last write the read could hold returned", name, got.Sub(upper))
}

// TestClientMeasuresScriptedTruth drives one request against a server that
// sends every framing quirk, and checks each measured quantity against the
// schedule the server actually kept.
func TestClientMeasuresScriptedTruth(t *testing.T) {
	role := `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	usage := `{"id":"c","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":8,"total_tokens":29}}`
	blue := "data: " + chatChunk(" blue") + " \n\n" // TensorRT-LLM's space before the line end
	cutAt := strings.Index(blue, "ue")
	script := []piece{
		{0, "data: " + role + "\r\n\r\n"},                    // role-only first chunk: must not stop the clock
		{10 * ms, ": ping\r\n\r\n"},                          // comment: must not stop the clock
		{100 * ms, "data: " + chatChunk("The") + "\r\n\r\n"}, // TTFT (CRLF framing)
		{120 * ms, "data: " + chatChunk(" sky is") + "\n\n"}, // 2 tokens in one event
		{140 * ms, blue[:cutAt]},                             // an event split across writes...
		{150 * ms, blue[cutAt:] + "data: " + chatChunk(".") + "\n\n" + // ...completed here, merged with the next
			"data: " + chatChunk(" Yes") + "\n\n"}, //   and a third event in the same write
		{200 * ms, "data: " + chatChunk("!") + "\n\n"}, // last content: E2E
		{260 * ms, "data: " + usage + "\n\n"},          // usage-only chunk: must not extend E2E
		{270 * ms, "data: [DONE]\n\n"},
	}
	srv := newScriptServer(t, 200, script)
	c := newTestClient(t, srv.URL())

	epoch := time.Now()
	rec := c.Do(context.Background(), Request{Prompt: "hi", MaxTokens: 8}, epoch)
	require.True(t, rec.OK(), "error %s: %s", rec.ErrorKind, rec.Error)
	w := srv.writes()[0]
	srv.mu.Lock()
	wrote := srv.wrote[0] // [0] is the response head, [i+1] piece i
	srv.mu.Unlock()
	if ok, err := streamhttp.KernelStamps(); ok {
		assert.Equal(t, "kernel", rec.Clock)
	} else {
		t.Logf("user-space stamps only: %v", err)
	}

	// Events: "The", " sky is", " blue", ".", " Yes", "!" (6 events, 8 tokens).
	require.Len(t, rec.Events, 6)
	assert.Equal(t, 21, rec.PromptTokens)
	assert.Equal(t, 8, rec.OutputTokens)
	assert.Equal(t, TokensFromUsage, rec.TokenSource)
	assert.Equal(t, ITLApportioned, rec.ITLSource, "6 events for 8 tokens: ITL is an estimate")
	assert.Equal(t, 1, rec.Comments)

	sent := epoch.Add(rec.Sent)
	ev := func(i int) (time.Time, time.Duration) { return sent.Add(rec.Events[i].At), rec.Events[i].Lag }
	at, lag := ev(0)
	assertWithin(t, "TTFT", rec.Clock, at, lag, 1+2, wrote)
	at, lag = ev(2)
	assertWithin(t, "event 3 (split)", rec.Clock, at, lag, 1+5, wrote)
	assert.Equal(t, rec.Events[2].At, rec.Events[3].At, "merged events share their read's stamp")
	assert.GreaterOrEqual(t, rec.SharedStamps, 2, "events 4 and 5 arrived in the read that completed event 3")
	at, lag = ev(5)
	assertWithin(t, "E2E", rec.Clock, at, lag, 1+6, wrote)
	assert.Less(t, rec.E2E, w[7], "the usage chunk must not extend E2E")
	// The headers: no earlier than their write, no later than the read
	// that completed the first content event.
	assert.False(t, sent.Add(rec.TTFB).Before(wrote[0][0]), "TTFB before the server wrote its headers")
	assert.LessOrEqual(t, rec.TTFB, rec.TTFT)
	for i, e := range rec.Events {
		assert.GreaterOrEqual(t, e.Lag, time.Duration(0), "event %d: the client cannot read bytes before they arrive", i)
	}
	tpot, ok := rec.TPOT()
	require.True(t, ok)
	assert.InDelta(t, float64(rec.E2E-rec.TTFT)/7, float64(tpot), 1)

	// Tokens add up and the two-token event got more than the one-token ones.
	sum := 0
	for _, e := range rec.Events {
		sum += e.Tokens
	}
	assert.Equal(t, 8, sum)
	assert.Greater(t, rec.Events[1].Tokens, rec.Events[5].Tokens)
}

func TestClientCountsChunksWithoutUsage(t *testing.T) {
	srv := newScriptServer(t, 200, []piece{
		{0, "data: " + chatChunk("a") + "\n\n"},
		{5 * ms, "data: " + chatChunk("b") + "\n\ndata: " + chatChunk("c") + "\n\ndata: [DONE]\n\n"},
	})
	rec := newTestClient(t, srv.URL()).Do(context.Background(), Request{Prompt: "x", MaxTokens: 3}, time.Now())
	require.True(t, rec.OK(), rec.Error)
	assert.Equal(t, 3, rec.OutputTokens)
	assert.Equal(t, TokensFromChunks, rec.TokenSource)
	assert.Equal(t, ITLOnePerEvent, rec.ITLSource)
}

func TestClientContinuousUsage(t *testing.T) {
	ev := func(content string, cum int) string {
		return `data: {"choices":[{"delta":{"content":"` + content + `"}}],"usage":{"prompt_tokens":4,"completion_tokens":` + string(rune('0'+cum)) + `}}` + "\n\n"
	}
	srv := newScriptServer(t, 200, []piece{
		{0, `data: {"choices":[{"delta":{"role":"assistant","content":""}}],"usage":{"prompt_tokens":4,"completion_tokens":0}}` + "\n\n"},
		{5 * ms, ev("a", 1)}, {10 * ms, ev("bcd", 4)}, {15 * ms, ev("e", 5)},
		{16 * ms, `data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":5}}` + "\n\ndata: [DONE]\n\n"},
	})
	c, err := NewClient(Target{BaseURL: srv.URL(), Model: "m", IncludeUsage: true, ContinuousUsage: true}, 1)
	require.NoError(t, err)
	rec := c.Do(context.Background(), Request{Prompt: "x", MaxTokens: 5}, time.Now())
	require.True(t, rec.OK(), rec.Error)
	assert.Equal(t, ITLPerChunkUsage, rec.ITLSource)
	assert.Equal(t, []int{1, 3, 1}, []int{rec.Events[0].Tokens, rec.Events[1].Tokens, rec.Events[2].Tokens})
}

func TestClientFaultsAreData(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		script  []piece
		cut     bool
		opts    []ClientOption
		kind    ErrorKind
		message string
	}{
		{"HTTP 400 with JSON message", 400, []piece{{0, `{"object":"error","message":"unknown field 'foo'","code":400}`}}, false, nil, KindHTTP, "HTTP 400: unknown field 'foo'"},
		{"HTTP 503 text", 503, []piece{{0, "overloaded"}}, false, nil, KindHTTP, "HTTP 503: overloaded"},
		{"malformed event", 200, []piece{{0, "data: " + chatChunk("a") + "\n\ndata: {not json\n\n"}}, false, nil, KindMalformed, "{not json"},
		{"error event", 200, []piece{{0, `data: {"error":{"message":"CUDA out of memory"}}` + "\n\n"}}, false, nil, KindServer, "CUDA out of memory"},
		{"connection cut mid-stream", 200, []piece{{0, "data: " + chatChunk("a") + "\n\ndata: " + chatChunk("b")}}, true, nil, KindTransport, "unexpected EOF"},
		{"stall", 200, []piece{{0, "data: " + chatChunk("a") + "\n\n"}, {2 * time.Second, "data: [DONE]\n\n"}}, false,
			[]ClientOption{WithStallTimeout(100 * ms)}, KindStall, "stall timeout"},
		{"deadline", 200, []piece{{0, "data: " + chatChunk("a") + "\n\n"}, {50 * ms, "data: " + chatChunk("b") + "\n\n"},
			{100 * ms, "data: " + chatChunk("c") + "\n\n"}, {2 * time.Second, "data: [DONE]\n\n"}}, false,
			[]ClientOption{WithRequestTimeout(150 * ms), WithStallTimeout(time.Second)}, KindDeadline, "within 150ms"},
		{"no [DONE]: truncated", 200, []piece{{0, "data: " + chatChunk("a") + "\n\n"}}, false, nil, KindTruncated, "without [DONE] after 1 content events"},
		{"body cut inside a line", 200, []piece{{0, "data: " + chatChunk("a") + "\n\ndata: {\"cho"}}, false, nil, KindTransport, "unexpected EOF"},
		{"line too long", 200, []piece{{0, "data: \"" + strings.Repeat("x", MaxLineBytes+1)}}, false, nil, KindMalformed, "longer than 4 MiB"},
		{"no content", 200, []piece{{0, `data: {"choices":[{"delta":{"role":"assistant"}}]}` + "\n\ndata: [DONE]\n\n"}}, false, nil, KindNoContent, "without a content"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScriptServer(t, tc.status, tc.script)
			srv.cut = tc.cut
			rec := newTestClient(t, srv.URL(), tc.opts...).Do(context.Background(), Request{Prompt: "x", MaxTokens: 4}, time.Now())
			written := srv.pieces.Load()
			assert.Equal(t, tc.kind, rec.ErrorKind, "error: %s", rec.Error)
			assert.Contains(t, rec.Error, tc.message)
			// The stall and deadline cases' servers send [DONE] at 2 s:
			// the fault, not the server, must have ended the request, so
			// the server had not written its last piece when Do returned.
			if last := tc.script[len(tc.script)-1]; last.At >= 2*time.Second {
				assert.Less(t, written, int64(len(tc.script)), "the request ended only when the server finished it")
			}
		})
	}
}

// A server that sends [DONE] and keeps the body open: the request ends at
// [DONE], completed, and the connection is cut after a short drain.
func TestClientDoneThenHang(t *testing.T) {
	srv := newScriptServer(t, 200, []piece{
		{0, "data: " + chatChunk("a") + "\n\ndata: [DONE]\n\n"},
		{time.Minute, "data: late\n\n"},
	})
	c := newTestClient(t, srv.URL(), WithStallTimeout(time.Minute))
	c.drain = 30 * time.Second // a drain done inside Do would hold it this long
	start := time.Now()
	rec := c.Do(context.Background(), Request{Prompt: "x", MaxTokens: 1}, start)
	returned := time.Since(start)
	require.True(t, rec.OK(), rec.Error)
	assert.Less(t, rec.End, 5*time.Second, "End is the [DONE] event, not the server's late write")
	// Do returned long before its own drain could have ended: the drain
	// runs behind it, so that the loop sends the next request at once.
	assert.Less(t, returned, rec.Sent+rec.End+c.drain, "Do returns at [DONE]; the drain happens behind it")
	srv.closeConns() // end the drain now, so that Close does not wait it out
}

// usage.completion_tokens below the number of content events cannot be
// true: the events are counted, and the record says so.
func TestClientUsageBelowEvents(t *testing.T) {
	srv := newScriptServer(t, 200, []piece{{0, "data: " + chatChunk("a") + "\n\ndata: " + chatChunk("b") + "\n\ndata: " + chatChunk("c") +
		"\n\n" + `data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}` + "\n\ndata: [DONE]\n\n"}})
	rec := newTestClient(t, srv.URL()).Do(context.Background(), Request{Prompt: "x", MaxTokens: 3}, time.Now())
	require.True(t, rec.OK(), rec.Error)
	assert.Equal(t, 3, rec.OutputTokens)
	assert.Equal(t, TokensUsageTooLow, rec.TokenSource)
	assert.Contains(t, Summarize([]Record{rec}, SLO{}).Flags, "usage.completion_tokens of 1 requests was below their number of content events: the events were counted instead")
}

// A 200 with a JSON body: the server ignored "stream": true.
func TestClientNonStreamingAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"choices":[{"message":{"content":"hi"}}]}`))
	}))
	defer srv.Close()
	rec := newTestClient(t, srv.URL).Do(context.Background(), Request{Prompt: "x", MaxTokens: 1}, time.Now())
	assert.Equal(t, KindMalformed, rec.ErrorKind)
	assert.Contains(t, rec.Error, `not an event stream: does the server honour "stream": true?`)
}

func TestClientRefusedConnection(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1")
	rec := c.Do(context.Background(), Request{Prompt: "x", MaxTokens: 1}, time.Now())
	assert.Equal(t, KindTransport, rec.ErrorKind)
	assert.Contains(t, rec.Error, "refused")
}

func TestClientBodies(t *testing.T) {
	chat, err := NewClient(Target{BaseURL: "http://x", Model: "m", API: Chat, IgnoreEOS: true, IncludeUsage: true}, 1)
	require.NoError(t, err)
	b, err := chat.Body(Request{Prompt: "hello", MaxTokens: 7})
	require.NoError(t, err)
	assert.JSONEq(t, `{"model":"m","stream":true,"max_tokens":7,"ignore_eos":true,
		"messages":[{"role":"user","content":"hello"}],"stream_options":{"include_usage":true}}`, string(b))

	// An engine that accepts no optional field gets none.
	bare, err := NewClient(Target{BaseURL: "http://x", Model: "m", API: Completions}, 1)
	require.NoError(t, err)
	b, err = bare.Body(Request{Prompt: "hello", MaxTokens: 7})
	require.NoError(t, err)
	assert.JSONEq(t, `{"model":"m","stream":true,"max_tokens":7,"prompt":"hello"}`, string(b))
	assert.Equal(t, "/v1/completions", bare.path)

	_, err = NewClient(Target{BaseURL: "http://x", API: "responses"}, 1)
	assert.ErrorContains(t, err, `unknown API "responses": use chat or completions`)
}
