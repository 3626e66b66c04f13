package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/servermetrics"
)

// text is n bytes of prose-like filler after a salt, so that prompts
// with different salts differ in their first block.
func text(salt string, n int) string {
	s := salt + " " + strings.Repeat("the quick brown fox jumps over the lazy dog ", n/44+1)
	return s[:n]
}

// cacheCounters scrapes the plain simulator's /metrics through
// servermetrics, the way a cell reads them.
func cacheCounters(t *testing.T, l *Listening) (queries, hits float64) {
	t.Helper()
	snap, err := servermetrics.Scrape(context.Background(), http.DefaultClient, l.URL+"/metrics")
	require.NoError(t, err)
	q, ok := snap[servermetrics.PrefixQueries]
	require.True(t, ok, "sim:prefix_cache_queries_total is mapped")
	h, ok := snap[servermetrics.PrefixHits]
	require.True(t, ok, "sim:prefix_cache_hits_total is mapped")
	assert.Equal(t, "sim:prefix_cache_queries_total", q.Metric)
	assert.Equal(t, "sim:prefix_cache_hits_total", h.Metric)
	return q.V, h.V
}

// A prompt sent twice is served from the cache the second time: all its
// full blocks but the last token's are hits, they skip prefill (the
// scheduler computed 16 of its 2,000 tokens), and TTFT drops by about the
// prefill time the timing model gives them.
func TestPrefixCacheSkipsPrefill(t *testing.T) {
	timing := Linear{Base: 2 * time.Millisecond, PerPrefill: 100 * time.Microsecond}
	l := listen(t, Config{Model: "m", Timing: timing})
	prompt := text("salt-1", 8000) // 2,000 tokens
	c := client(t, l, loadgen.Completions, true, false)
	cold := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 2}, time.Now())
	require.True(t, cold.OK(), cold.Error)
	q1, h1 := cacheCounters(t, l)
	warm := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 2}, time.Now())
	require.True(t, warm.OK(), warm.Error)
	q2, h2 := cacheCounters(t, l)

	const tokens, hit = 2000, 1984 // (2000−1)/16 whole blocks: the last token is recomputed
	assert.Equal(t, tokens, cold.PromptTokens)
	assert.Equal(t, tokens, warm.PromptTokens, "usage counts the whole prompt, cached or not")
	assert.Equal(t, float64(tokens), q1)
	assert.Zero(t, h1, "a cold cache misses")
	assert.Equal(t, float64(2*tokens), q2)
	assert.Equal(t, float64(hit), h2-h1)
	assert.Equal(t, tokens+(tokens-hit), l.Server.sched.counters().prefilled, "the scheduler prefilled only the uncached tokens")

	modelCold := timing.StepTime(Step{Prefill: tokens})
	modelWarm := timing.StepTime(Step{Prefill: tokens - hit})
	t.Logf("TTFT cold %v (model %v), warm %v (model %v)", cold.TTFT, modelCold, warm.TTFT, modelWarm)
	assert.GreaterOrEqual(t, cold.TTFT, modelCold, "the cold request waits for its whole prefill step")
	assert.GreaterOrEqual(t, cold.TTFT-warm.TTFT, (modelCold-modelWarm)/2,
		"the warm request saves most of the %v of prefill the model gives the cached tokens", modelCold-modelWarm)
}

// The hash chain: a prompt whose salt differs in its first block misses
// entirely; one that shares the first 1,000 bytes hits their 15 whole
// blocks and nothing after the first difference.
func TestPrefixCacheSaltsMiss(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast()})
	c := client(t, l, loadgen.Completions, true, false)
	do := func(prompt string) float64 {
		_, before := cacheCounters(t, l)
		rec := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 1}, time.Now())
		require.True(t, rec.OK(), rec.Error)
		_, after := cacheCounters(t, l)
		return after - before
	}
	shared := text("group-1", 1000)
	assert.Zero(t, do(shared+" first"))
	assert.Zero(t, do(strings.Replace(shared, "group-1", "group-2", 1)+" first"), "another salt in the first block: every block misses")
	assert.Equal(t, float64(1000/CacheBlockBytes*CacheBlockTokens), do(shared+" second suffix"),
		"the shared text's whole blocks hit, up to the block the suffix starts in")
	lateSalt := shared[:100] + "X" + shared[101:] + " first"
	assert.Equal(t, float64(100/CacheBlockBytes*CacheBlockTokens), do(lateSalt),
		"a difference in block 1 misses every block from there on, even where the text is equal again")
}

// At capacity the least recently used blocks go: with room for two
// requests' blocks, a third evicts the first, and the second, used since,
// stays.
func TestPrefixCacheEvictsLeastRecentlyUsed(t *testing.T) {
	// Each prompt is two blocks and a token; with its one-token output
	// (" the", 4 bytes) it still fills two blocks.
	l := listen(t, Config{Model: "m", Timing: fast(), PrefixCacheTokens: 4 * CacheBlockTokens})
	c := client(t, l, loadgen.Completions, true, false)
	prompt := func(i int) string { return text(fmt.Sprintf("p%d", i), 2*CacheBlockBytes+4) }
	do := func(i int) float64 {
		_, before := cacheCounters(t, l)
		rec := c.Do(context.Background(), loadgen.Request{Prompt: prompt(i), MaxTokens: 1}, time.Now())
		require.True(t, rec.OK(), rec.Error)
		_, after := cacheCounters(t, l)
		return after - before
	}
	const both = 2 * CacheBlockTokens
	assert.Zero(t, do(1))
	assert.Zero(t, do(2))
	assert.Equal(t, float64(both), do(1), "both fit: 1 hits, and is now the most recent")
	assert.Zero(t, do(3), "3 evicts the least recently used, 2")
	assert.Equal(t, 4, l.Server.sched.counters().cachedBlocks, "the cache holds its capacity")
	assert.Equal(t, float64(both), do(1), "1 was used after 2 and stayed")
	assert.Zero(t, do(2), "2 was evicted")
}

func TestPrefixCacheLRUOrder(t *testing.T) {
	c := newPrefixCache(3 * CacheBlockTokens)
	a, b := blockHashes(text("a", 2*CacheBlockBytes)), blockHashes(text("b", 2*CacheBlockBytes))
	require.Len(t, a, 2)
	big := 100 * CacheBlockTokens
	c.insert(a)
	c.insert(b) // 4 blocks > 3: a's last block, the least recently used, goes
	assert.Equal(t, 3, c.len())
	assert.Equal(t, CacheBlockTokens, c.lookup(a, big), "a's first block stayed: a request's last block is evicted first")
	assert.Equal(t, 2*CacheBlockTokens, c.lookup(b, big))
	assert.Equal(t, CacheBlockTokens, c.lookup(a, 2*CacheBlockTokens), "at most prompt tokens − 1: the last token is recomputed")
	assert.Zero(t, c.lookup(b, CacheBlockTokens))
	assert.Zero(t, newPrefixCache(-1).lookup(a, big), "off")
}

// With the cache off nothing is queried, as vLLM records no prefix-cache
// stats without prefix caching, and a repeated prompt is prefilled again.
func TestPrefixCacheOff(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast(), PrefixCacheTokens: -1})
	c := client(t, l, loadgen.Completions, true, false)
	prompt := text("s", 4000)
	for range 2 {
		rec := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 1}, time.Now())
		require.True(t, rec.OK(), rec.Error)
	}
	q, h := cacheCounters(t, l)
	assert.Zero(t, q)
	assert.Zero(t, h)
	assert.Equal(t, 2*PromptTokens(prompt), l.Server.sched.counters().prefilled)
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// chatTurn streams one chat request and returns the answer's text as the
// stream sent it and usage.prompt_tokens.
func chatTurn(t *testing.T, l *Listening, msgs []chatMessage, maxTokens int) (string, int) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"model": "m", "messages": msgs, "max_tokens": maxTokens, "ignore_eos": true,
		"stream": true, "stream_options": map[string]bool{"include_usage": true}})
	require.NoError(t, err)
	resp, err := http.Post(l.URL+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var answer strings.Builder
	prompt := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Usage *struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		}
		require.NoError(t, json.Unmarshal([]byte(data), &ev), data)
		for _, ch := range ev.Choices {
			answer.WriteString(ch.Delta.Content)
		}
		if ev.Usage != nil {
			prompt = ev.Usage.PromptTokens
		}
	}
	require.NoError(t, sc.Err())
	return answer.String(), prompt
}

// A conversation's second turn, which sends back the first answer as the
// stream gave it, hits on the first turn's prompt and answer: every whole
// block of their text. A second turn with another answer hits on the
// first prompt's blocks only, so the answer's blocks were cached too.
func TestPrefixCacheMultiTurn(t *testing.T) {
	l := listen(t, Config{Model: "m", Timing: fast()})
	user1 := text("session-1", 1000)
	answer, prompt1 := chatTurn(t, l, []chatMessage{{"user", user1}}, 40)
	require.NotEmpty(t, answer)
	assert.Equal(t, PromptTokens(user1)+chatTemplateTokens, prompt1)

	hits := func(msgs []chatMessage) float64 {
		_, before := cacheCounters(t, l)
		_, prompt := chatTurn(t, l, msgs, 4)
		var all strings.Builder
		for _, m := range msgs {
			all.WriteString(m.Content)
		}
		assert.Equal(t, PromptTokens(all.String())+chatTemplateTokens, prompt)
		_, after := cacheCounters(t, l)
		return after - before
	}
	user2 := " and now the second question of the conversation, which is new"
	other := strings.Repeat(" other", len(answer)/6+1)[:len(answer)]
	assert.Equal(t, float64((len(user1)+len(answer))/CacheBlockBytes*CacheBlockTokens),
		hits([]chatMessage{{"user", user1}, {"assistant", answer}, {"user", user2}}),
		"turn 2 renders turn 1's prompt and answer as its prefix")
	assert.Equal(t, float64(len(user1)/CacheBlockBytes*CacheBlockTokens),
		hits([]chatMessage{{"user", user1}, {"assistant", other}, {"user", user2}}),
		"another answer: only the first prompt's blocks")
}

// sim:peak_requests_in_flight is the most requests held at once, running
// and waiting: a closed loop of 8 on a batch of 4 holds exactly 8.
func TestPeakRequestsInFlight(t *testing.T) {
	l := listen(t, Config{Model: "m", MaxBatch: 4, Timing: Linear{Base: time.Millisecond}})
	c := client(t, l, loadgen.Chat, true, false)
	recs, err := loadgen.ClosedLoop{Concurrency: 8, Requests: 64}.Run(context.Background(), c,
		func(_ context.Context, i int) loadgen.Request {
			return loadgen.Request{Prompt: fmt.Sprint("hello ", i), MaxTokens: 8}
		}, nil)
	require.NoError(t, err)
	for _, r := range recs {
		require.True(t, r.OK(), r.Error)
	}
	assert.Equal(t, 8, l.Server.PeakInFlight())
	assert.Equal(t, 4, l.Server.PeakBatch(), "the other 4 waited")
	code, body := get(t, l.URL+"/metrics")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "# TYPE sim:peak_requests_in_flight gauge\nsim:peak_requests_in_flight 8\n")
}

// The twins export the simulator's cache under their engines' names:
// vLLM's counters in tokens, and SGLang's gauge as the last prefill
// batch's hit rate, zeroed by the 40th decode batch's stats.
func TestTwinPrefixCacheMetrics(t *testing.T) {
	prompt := text("twin", 8000) // 2,000 tokens; 1,984 hit when repeated
	const rate = 1984.0 / 2000

	v := twin(t, VLLM, Config{Timing: fast()})
	c := client(t, v, loadgen.Completions, true, false)
	for range 2 {
		rec := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 2}, time.Now())
		require.True(t, rec.OK(), rec.Error)
	}
	snap, err := servermetrics.Scrape(context.Background(), http.DefaultClient, v.URL+"/metrics")
	require.NoError(t, err)
	assert.Equal(t, servermetrics.Value{V: 4000, Metric: "vllm:prefix_cache_queries_total", Engine: "vllm"}, snap[servermetrics.PrefixQueries])
	assert.Equal(t, servermetrics.Value{V: 1984, Metric: "vllm:prefix_cache_hits_total", Engine: "vllm"}, snap[servermetrics.PrefixHits])

	s := twin(t, SGLang, Config{Timing: fast(), EnableMetrics: true})
	for !s.Server.warm.Load() {
		time.Sleep(time.Millisecond) // the warm-up generation runs first
	}
	c = client(t, s, loadgen.Completions, true, false)
	hitRate := func(maxTokens int) float64 {
		rec := c.Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: maxTokens}, time.Now())
		require.True(t, rec.OK(), rec.Error)
		snap, err := servermetrics.Scrape(context.Background(), http.DefaultClient, s.URL+"/metrics")
		require.NoError(t, err)
		v := snap[servermetrics.PrefixHitRate]
		assert.Equal(t, "sglang:cache_hit_rate", v.Metric)
		return v.V
	}
	assert.Zero(t, hitRate(2), "a cold cache")
	assert.InDelta(t, rate, hitRate(2), 1e-12, "the repeated prompt's prefill batch")
	assert.Zero(t, hitRate(2*sglangDecodeLogInterval+1), "decode batches' stats set it to 0")
}

// The chain continued over a longer text is the chain of that text: a
// finished sequence's output blocks hash on from its prompt's.
func TestBlockHashChain(t *testing.T) {
	prompt, full := text("c", 3*CacheBlockBytes+10), text("c", 7*CacheBlockBytes+3)
	hs := blockHashes(prompt)
	require.Len(t, hs, 3)
	assert.Equal(t, blockHashes(full), appendBlockHashes(hs[:3:3], full))
	assert.Equal(t, blockHashes(full)[:3], hs, "a prefix's blocks are the longer text's first blocks")
	other := blockHashes("X" + full[1:])
	for i := range other {
		assert.NotEqual(t, blockHashes(full)[i], other[i], "block %d: a difference in block 0 changes every later hash", i)
	}
}

// TensorRT-LLM's usage carries prompt_tokens_details.cached_tokens: the
// twin reports the simulator's hits there, on the final usage chunk and
// on every per-chunk usage after the first token.
func TestTRTLLMCachedTokens(t *testing.T) {
	l := twin(t, TRTLLM, Config{Timing: fast()})
	body := strings.Replace(chatBody, `"hi"`, jsonString(text("trt", 8000)), 1) // 2,000 tokens + 8 of the template
	for i, want := range []string{`"cached_tokens":0}`, `"cached_tokens":2000}`} {
		code, resp := post(t, l.URL+"/v1/chat/completions", body)
		require.Equal(t, 200, code, resp)
		ev := events(resp)
		require.Len(t, ev, 6, "role, 3 tokens, usage, [DONE]")
		for _, e := range ev[1:5] {
			assert.Contains(t, e, want, "request %d", i+1)
		}
	}
}

// Two requests for one prompt admitted in the same step: the first
// prefills it, and its blocks are cached as the step is planned, so the
// second hits on them at once (vLLM caches a block when it is allocated
// full, for the rest of the batch).
func TestPrefixCacheSharedWithinAStep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := &scheduler{timing: Linear{Base: time.Millisecond}, maxBatch: 8, maxPrefill: 8192, in: make(chan *seq, 2),
		cache: newPrefixCache(DefaultPrefixCacheTokens)}
	prompt := text("same-step", 8000)
	a, b := newTextSeq(prompt, 2000, 1), newTextSeq(prompt, 2000, 1)
	sc.in <- a
	sc.in <- b // both queued before the scheduler's first step
	go sc.run(ctx)
	for _, s := range []*seq{a, b} {
		for _, done := s.progress(); !done; _, done = s.progress() {
			<-s.notify
		}
	}
	assert.Zero(t, a.cachedTokens())
	assert.Equal(t, 1984, b.cachedTokens())
	assert.Equal(t, 2000+16, sc.counters().prefilled)
	_, _, peak := sc.stats()
	assert.Equal(t, 2, peak, "one step admitted both")
}

// Shared-prefix traffic against the same lengths salted per request, in
// closed loops of 4 on one server: the shared prefix hits after its first
// prefill and TTFT falls accordingly. Each request's prompt is a 1,000-
// token text and an 8-byte index; salted, the index comes first. The
// timing model gives a salted step of 4 admissions 4 × 50 ms of prefill,
// a shared one (after the first) about 4 × 0.4 ms: the test asks only a
// factor of 2 of the median TTFT.
func TestSharedPrefixBeatsSalted(t *testing.T) {
	l := listen(t, Config{Model: "m", MaxBatch: 8, Timing: Linear{Base: 2 * time.Millisecond, PerPrefill: 50 * time.Microsecond}})
	shared := text("system prompt", 4000)
	run := func(prompt func(i int) string) (loadgen.Summary, float64) {
		q0, h0 := cacheCounters(t, l)
		recs, err := loadgen.ClosedLoop{Concurrency: 4, Requests: 24}.Run(context.Background(), client(t, l, loadgen.Completions, true, false),
			func(_ context.Context, i int) loadgen.Request {
				return loadgen.Request{Prompt: prompt(i), MaxTokens: 4}
			}, nil)
		require.NoError(t, err)
		s := loadgen.Summarize(recs, loadgen.SLO{})
		require.Zero(t, s.Failed, s.FirstErrors)
		q1, h1 := cacheCounters(t, l)
		return s, (h1 - h0) / (q1 - q0)
	}
	salted, saltedHits := run(func(i int) string { return fmt.Sprintf("[%06d]", i) + shared })
	group, groupHits := run(func(i int) string { return shared + fmt.Sprintf("[%06d]", i) })
	t.Logf("TTFT p50 salted %v, shared prefix %v; hit rate %.3f, %.3f",
		time.Duration(salted.TTFT.P50), time.Duration(group.TTFT.P50), saltedHits, groupHits)
	assert.Zero(t, saltedHits)
	assert.InDelta(t, 23*992.0/(24*1002), groupHits, 1e-12,
		"all but the first request hit the 62 whole blocks (992 tokens) of the shared text, of 1,002 prompt tokens")
	assert.Greater(t, salted.TTFT.P50, 2*group.TTFT.P50)
}
