package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
)

func listen(t *testing.T, cfg Config) *Listening {
	t.Helper()
	l, err := Listen(context.Background(), "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	return l
}

func fast() Linear { return Linear{Base: time.Millisecond, PerSeq: 10 * time.Microsecond} }

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestStreamWireFormat(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast()})
	code, body := post(t, l.URL+"/v1/chat/completions",
		`{"model":"m","stream":true,"max_tokens":3,"ignore_eos":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there"}]}`)
	require.Equal(t, 200, code)
	var events []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			events = append(events, strings.TrimPrefix(line, "data: "))
		}
	}
	require.Len(t, events, 6, "role, 3 tokens, usage, [DONE]: %q", events)
	assert.Contains(t, events[0], `"delta":{"role":"assistant","content":""}`)
	assert.Contains(t, events[1], `"finish_reason":null`)
	assert.Contains(t, events[3], `"finish_reason":"length"`, "finish_reason on the last content chunk")
	var usage struct {
		Choices []any
		Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	require.NoError(t, json.Unmarshal([]byte(events[4]), &usage))
	assert.Empty(t, usage.Choices)
	assert.Equal(t, "[DONE]", events[5])
	for _, e := range events[:5] {
		assert.True(t, json.Valid([]byte(e)), "event %q", e)
	}
}

func client(t *testing.T, l *Listening, api loadgen.API, ignoreEOS, continuous bool) *loadgen.Client {
	t.Helper()
	c, err := loadgen.NewClient(loadgen.Target{BaseURL: l.URL, Model: "m", API: api, IgnoreEOS: ignoreEOS,
		IncludeUsage: true, ContinuousUsage: continuous}, 64)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestSimHonoursRequestFields(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast()})
	for _, api := range []loadgen.API{loadgen.Chat, loadgen.Completions} {
		rec := client(t, l, api, true, false).Do(context.Background(), loadgen.Request{Prompt: strings.Repeat("word ", 100), MaxTokens: 20}, time.Now())
		require.True(t, rec.OK(), "%s: %s", api, rec.Error)
		assert.Equal(t, 20, rec.OutputTokens, "%s: ignore_eos runs to max_tokens", api)
		assert.Equal(t, loadgen.TokensFromUsage, rec.TokenSource)
		assert.Equal(t, loadgen.ITLOnePerEvent, rec.ITLSource)
		assert.Equal(t, PromptTokens(strings.Repeat("word ", 100))+map[loadgen.API]int{loadgen.Chat: 8}[api], rec.PromptTokens)
	}
	// Without ignore_eos the sim stops at a natural length for some prompts.
	short := 0
	for i := 0; i < 10; i++ {
		rec := client(t, l, loadgen.Chat, false, false).Do(context.Background(),
			loadgen.Request{Prompt: strings.Repeat("x", i+1), MaxTokens: 40}, time.Now())
		require.True(t, rec.OK(), rec.Error)
		if rec.OutputTokens < 40 {
			short++
		}
	}
	assert.Greater(t, short, 0, "some outputs stop short without ignore_eos")
	// continuous_usage_stats: exact tokens per event.
	rec := client(t, l, loadgen.Chat, true, true).Do(context.Background(), loadgen.Request{Prompt: "p", MaxTokens: 5}, time.Now())
	require.True(t, rec.OK(), rec.Error)
	assert.Equal(t, loadgen.ITLPerChunkUsage, rec.ITLSource)
}

func TestSimErrorsAndEndpoints(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast()})
	code, body := post(t, l.URL+"/v1/chat/completions", `{"model":"other","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 404, code)
	assert.Contains(t, body, "The model `other` does not exist.")
	code, body = post(t, l.URL+"/v1/completions", `{"model":"m","prompt":`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "invalid JSON body")
	code, body = post(t, l.URL+"/v1/completions", `{"model":"m","prompt":"x","max_tokens":0}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "max_tokens must be at least 1")

	// Non-streaming, default max_tokens 16.
	code, body = post(t, l.URL+"/v1/completions", `{"model":"m","prompt":"x","ignore_eos":true}`)
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"completion_tokens":16`)

	resp, err := http.Get(l.URL + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	resp, err = http.Get(l.URL + "/v1/models")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `"id":"m"`)
}

// TestSimBehavesLikeABatchingEngine checks the shape that makes the
// simulator a useful stand-in: throughput grows with concurrency until
// the batch is full, then saturates, while TTFT grows with queueing.
// Bounds are ratios with wide margins, not wall-clock values, and the
// step times are long enough (4 ms + 0.4 ms per sequence: 4.4 ms at batch
// 1, 7.2 ms at batch 8) that a busy machine's scheduling delays, a
// fraction of a millisecond per step, cannot turn them around: batch 8
// makes 4.9× the tokens of batch 1 per second where the test asks 3×,
// and its steps take 2.8 ms longer.
func TestSimBehavesLikeABatchingEngine(t *testing.T) {
	l := listen(t, Config{Model: "m", MaxBatch: 8, Timing: Linear{Base: 4 * time.Millisecond, PerSeq: 400 * time.Microsecond}})
	run := func(conc int) loadgen.Summary {
		c := client(t, l, loadgen.Chat, true, false)
		recs, err := loadgen.ClosedLoop{Concurrency: conc, Warmup: conc, Requests: 3 * conc}.Run(context.Background(), c,
			func(context.Context, int) loadgen.Request { return loadgen.Request{Prompt: "hello", MaxTokens: 20} }, nil)
		require.NoError(t, err)
		s := loadgen.Summarize(recs, loadgen.SLO{})
		require.Zero(t, s.Failed, s.FirstErrors)
		return s
	}
	s1, s8, s32 := run(1), run(8), run(32)
	t.Logf("tok/s: conc 1 %.0f, 8 %.0f, 32 %.0f; TTFT p50: %v, %v, %v", s1.OutputTokPerSec, s8.OutputTokPerSec, s32.OutputTokPerSec,
		time.Duration(s1.TTFT.P50), time.Duration(s8.TTFT.P50), time.Duration(s32.TTFT.P50))
	assert.Greater(t, s8.OutputTokPerSec, 3*s1.OutputTokPerSec, "batching multiplies throughput")
	assert.Less(t, s32.OutputTokPerSec, 1.5*s8.OutputTokPerSec, "a full batch saturates")
	assert.Greater(t, s32.TTFT.P50, 3*s8.TTFT.P50, "requests beyond the batch queue: TTFT grows")
	assert.Greater(t, s8.TPOT.P50, s1.TPOT.P50, "decode steps slow as the batch grows")
	assert.Equal(t, 8, l.Server.PeakBatch())
}
