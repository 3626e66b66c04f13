package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/servermetrics"
)

var twins = Personalities

func TestParsePersonality(t *testing.T) {
	for _, name := range []string{"", "plain", "vllm", "sglang", "trtllm"} {
		_, err := ParsePersonality(name)
		assert.NoError(t, err, name)
	}
	_, err := ParsePersonality("vLLM")
	assert.ErrorContains(t, err, `unknown personality "vLLM"`)
	_, err = Listen(context.Background(), "127.0.0.1:0", Config{Personality: "tgi"})
	assert.Error(t, err)
}

// twin serves personality p with a 2 ms step, long enough that the first
// token comes well after the role chunk.
func twin(t *testing.T, p Personality, cfg Config) *Listening {
	t.Helper()
	cfg.Personality = p
	if cfg.Model == "" {
		cfg.Model = "m"
	}
	if cfg.Timing == nil {
		cfg.Timing = Linear{Base: 2 * time.Millisecond}
	}
	return listen(t, cfg)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// events splits an SSE body into its data payloads.
func events(body string) []string {
	var out []string
	for _, block := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(strings.TrimRight(block, " "), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

// TestTwinsThroughLoadgen sends a streaming chat and completion request
// to each twin with loadgen's client and checks the record against what
// the server recorded: tokens from usage, TTFT no earlier than the
// server's first token (so never at the role chunk), per-chunk usage when
// asked.
func TestTwinsThroughLoadgen(t *testing.T) {
	for _, p := range twins {
		l := twin(t, p, Config{})
		for _, api := range []loadgen.API{loadgen.Chat, loadgen.Completions} {
			for _, continuous := range []bool{false, true} {
				rec := client(t, l, api, true, continuous).Do(context.Background(), loadgen.Request{Prompt: "hello twin", MaxTokens: 7}, time.Now())
				require.True(t, rec.OK(), "%s %s: %s", p, api, rec.Error)
				assert.Equal(t, 7, rec.OutputTokens, "%s %s", p, api)
				assert.Equal(t, loadgen.TokensFromUsage, rec.TokenSource, "%s %s", p, api)
				assert.Equal(t, PromptTokens("hello twin")+map[loadgen.API]int{loadgen.Chat: 8}[api], rec.PromptTokens)
				if continuous {
					assert.Equal(t, loadgen.ITLPerChunkUsage, rec.ITLSource, "%s %s: per-chunk usage", p, api)
				}
				sq := l.Server.last.Load()
				sq.mu.Lock()
				first, last := sq.stamps[0].Sub(sq.born), sq.stamps[len(sq.stamps)-1].Sub(sq.born)
				sq.mu.Unlock()
				assert.GreaterOrEqual(t, rec.TTFT, first, "%s %s: TTFT at the first content event", p, api)
				assert.GreaterOrEqual(t, rec.E2E, last, "%s %s", p, api)
			}
		}
	}
}

const chatBody = `{"model":"m","stream":true,"max_tokens":3,"ignore_eos":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

func TestVLLMStreamShape(t *testing.T) {
	l := twin(t, VLLM, Config{})
	code, body := post(t, l.URL+"/v1/chat/completions", chatBody)
	require.Equal(t, 200, code)
	// role, 1 to 3 token chunks (tokens merge when the handler falls
	// behind the scheduler, as vLLM's do: how many depends on this
	// machine's scheduling, so only the shape is fixed), usage, [DONE].
	ev := events(body)
	n := len(ev)
	require.True(t, n >= 4 && n <= 6, "role, 3 tokens in 1–3 chunks, usage, [DONE]: %q", ev)
	assert.Contains(t, ev[0], `"delta":{"role":"assistant","content":""}`)
	assert.Contains(t, ev[n-3], `"finish_reason":"length"`, "finish_reason on the last token")
	for _, e := range ev[1 : n-3] {
		assert.Contains(t, e, `"finish_reason":null`)
	}
	assert.Contains(t, ev[n-2], `"choices":[]`)
	assert.Equal(t, "[DONE]", ev[n-1])
	assert.NotContains(t, body, "} \n\n")
}

func TestSGLangStreamShape(t *testing.T) {
	l := twin(t, SGLang, Config{})
	code, body := post(t, l.URL+"/v1/chat/completions", strings.Replace(chatBody, `"model":"m"`, `"model":"any-name"`, 1))
	require.Equal(t, 200, code, body)
	// role, 1 to 3 token chunks (merged when the handler falls behind),
	// a separate finish chunk, usage, [DONE].
	ev := events(body)
	n := len(ev)
	require.True(t, n >= 5 && n <= 7, "role, 3 tokens in 1–3 chunks, finish, usage, [DONE]: %q", ev)
	assert.Contains(t, ev[0], `"delta":{"role":"assistant","content":""}`)
	assert.Contains(t, ev[0], `"model":"any-name"`, "SGLang echoes the request's model")
	for _, e := range ev[1 : n-3] {
		assert.Contains(t, e, `"finish_reason":null`, "token chunks have no finish_reason")
	}
	assert.Contains(t, ev[n-3], `"delta":{},"logprobs":null,"finish_reason":"length"`, "a separate finish chunk")
	assert.Contains(t, ev[n-2], `"choices":[]`)
	assert.Equal(t, "[DONE]", ev[n-1])
}

func TestTRTLLMStreamFraming(t *testing.T) {
	l := twin(t, TRTLLM, Config{Model: "nvidia/Llama-4-Scout-17B-16E-Instruct-FP8"})
	code, body := post(t, l.URL+"/v1/chat/completions", strings.Replace(chatBody, `"model":"m"`, `"model":"whatever"`, 1))
	require.Equal(t, 200, code, body)
	first, rest, ok := strings.Cut(body, "\n\n")
	require.True(t, ok)
	assert.True(t, strings.HasPrefix(first, `data: {"id":"`))
	assert.True(t, strings.HasSuffix(first, "} "), "the role chunk ends with a space before the blank line: %q", first)
	assert.Contains(t, first, `"delta":{"role":"assistant"}`, "no content key")
	assert.Contains(t, first, `"model":"whatever"`, "TensorRT-LLM echoes the request's model")
	assert.Contains(t, first, `"usage":{`, "continuous usage by default once stream_options is sent")
	assert.NotContains(t, rest, "} \n\n", "content chunks have no space")
	ev := events(body)
	require.Len(t, ev, 6, "%q", ev)
	assert.Contains(t, ev[3], `"finish_reason":"length"`)
	assert.Contains(t, ev[4], `"choices":[]`)
	assert.Contains(t, ev[4], `"prompt_tokens_details":{"cached_tokens":0}`)
	// continuous_usage_stats: false turns per-chunk usage off.
	_, body = post(t, l.URL+"/v1/chat/completions", strings.Replace(chatBody, `"include_usage":true`, `"include_usage":true,"continuous_usage_stats":false`, 1))
	assert.NotContains(t, events(body)[1], `"usage"`)
}

// TestTwinsMergeUnderLoad: with the batch at MergeAt, vLLM and SGLang
// send two tokens a chunk; per-chunk usage makes the ITL exact.
func TestTwinsMergeUnderLoad(t *testing.T) {
	for _, p := range []Personality{VLLM, SGLang} {
		l := twin(t, p, Config{MergeAt: 1})
		rec := client(t, l, loadgen.Chat, true, true).Do(context.Background(), loadgen.Request{Prompt: "p", MaxTokens: 6}, time.Now())
		require.True(t, rec.OK(), rec.Error)
		require.Equal(t, loadgen.ITLPerChunkUsage, rec.ITLSource, p)
		// At least two tokens a chunk (more when the handler also falls
		// behind), so 6 tokens come in at most 3 chunks, and per-chunk
		// usage says how many each carried.
		require.LessOrEqual(t, len(rec.Events), 3, "%s: 6 tokens merged", p)
		sum := 0
		for _, e := range rec.Events {
			sum += e.Tokens
		}
		assert.Equal(t, 6, sum, p)
		assert.GreaterOrEqual(t, rec.Events[0].Tokens, 2, p)
	}
	// TensorRT-LLM: one chunk per iteration whatever the batch.
	l := twin(t, TRTLLM, Config{MergeAt: 1})
	rec := client(t, l, loadgen.Chat, true, true).Do(context.Background(), loadgen.Request{Prompt: "p", MaxTokens: 6}, time.Now())
	require.True(t, rec.OK(), rec.Error)
	assert.Len(t, rec.Events, 6)
}

func TestTRTLLMValidation(t *testing.T) {
	l := twin(t, TRTLLM, Config{})
	for _, c := range []struct {
		path, body, field string
	}{
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"prompt":"x"}`, "'prompt'"},
		{"/v1/completions", `{"model":"m","prompt":"x","messages":[]}`, "'messages'"},
		{"/v1/completions", `{"model":"m","prompt":"x","max_completion_tokens":4}`, "'max_completion_tokens'"},
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"prot":1}`, "'prot'"},
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true,"foo":1}}`, "'foo'"},
	} {
		code, body := post(t, l.URL+c.path, c.body)
		assert.Equal(t, 400, code, c.body)
		var e struct{ Error string }
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		assert.Contains(t, e.Error, "extra_forbidden", c.body)
		assert.Contains(t, e.Error, c.field, c.body)
	}
	code, body := post(t, l.URL+"/v1/completions", `{"model":"m","prompt":"x","stream_options":{"include_usage":true}}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "Stream options can only be defined when stream is true.")
	code, body = post(t, l.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "'model'), 'msg': 'Field required'")
	// Accepted: max_completion_tokens on chat, and any model name.
	code, body = post(t, l.URL+"/v1/chat/completions", `{"model":"other","messages":[{"role":"user","content":"x"}],"max_completion_tokens":2,"ignore_eos":true}`)
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, `"model":"other"`)
	assert.Contains(t, body, `"completion_tokens":2`)
}

func TestVLLMAndSGLangValidation(t *testing.T) {
	l := twin(t, VLLM, Config{})
	code, body := post(t, l.URL+"/v1/chat/completions", `{"model":"other","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 404, code)
	var e struct {
		Error struct {
			Message, Type string
			Code          int
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	assert.Equal(t, "The model `other` does not exist.", e.Error.Message)
	assert.Equal(t, "NotFoundError", e.Error.Type)
	assert.Equal(t, 404, e.Error.Code)
	code, body = post(t, l.URL+"/v1/completions", `{"prompt":"x","max_tokens":2,"unknown_field":true,"prot":1}`)
	assert.Equal(t, 200, code, "vLLM ignores unknown fields; an omitted model is the served one: %s", body)
	assert.Contains(t, body, `"model":"m"`)

	l = twin(t, SGLang, Config{})
	code, body = post(t, l.URL+"/v1/completions", `{"model":"other","prompt":"x","max_tokens":2}`)
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, `"model":"other"`)
}

func TestTwinRoutes(t *testing.T) {
	l := twin(t, VLLM, Config{})
	code, body := get(t, l.URL+"/version")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"version":"0.12.0"}`, body)
	_, body = get(t, l.URL+"/v1/models")
	assert.Contains(t, body, `"owned_by":"vllm"`)
	code, _ = get(t, l.URL+"/health")
	assert.Equal(t, 200, code)

	l = twin(t, SGLang, Config{})
	_, body = get(t, l.URL+"/get_server_info")
	assert.Contains(t, body, `"version":"0.5.6.post2"`)
	_, body = get(t, l.URL+"/get_model_info")
	assert.Contains(t, body, `"model_path":"m"`)
	code, _ = get(t, l.URL+"/metrics")
	assert.Equal(t, 404, code, "SGLang serves /metrics only with --enable-metrics")
	code, _ = get(t, l.URL+"/version")
	assert.Equal(t, 404, code)

	ckpt := "nvidia/Llama-4-Scout-17B-16E-Instruct-FP8"
	l = twin(t, TRTLLM, Config{Model: ckpt})
	_, body = get(t, l.URL+"/v1/models")
	assert.Contains(t, body, `"id":"`+ckpt+`"`)
	assert.Contains(t, body, `"owned_by":"tensorrt_llm"`)
	code, body = get(t, l.URL+"/health_generate")
	assert.Equal(t, 200, code)
	assert.Equal(t, "Generation health check OK", body)
	_, body = get(t, l.URL+"/version")
	assert.JSONEq(t, `{"version":"1.2.1"}`, body)
	code, body = get(t, l.URL+"/metrics")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `[]`, body, "JSON iteration stats, not Prometheus")
	code, _ = get(t, l.URL+"/prometheus/metrics")
	assert.Equal(t, 404, code, "only with return_perf_metrics")
	l = twin(t, TRTLLM, Config{EnableMetrics: true})
	code, _ = get(t, l.URL+"/prometheus/metrics")
	assert.Equal(t, 200, code)
}

// TestSGLangHealthGenerate: 503 until the warm-up has run, then 200
// after at least a second (the asyncio.sleep(1) loop).
func TestSGLangHealthGenerate(t *testing.T) {
	srv := New(Config{Model: "m", Personality: SGLang, Timing: fast()})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	code, _ := get(t, hs.URL+"/health_generate")
	assert.Equal(t, 503, code, "no warm-up yet: server_status Starting")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	for !srv.warm.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	for _, path := range []string{"/health_generate", "/health"} {
		start := time.Now()
		code, _ = get(t, hs.URL+path)
		assert.Equal(t, 200, code, path)
		assert.GreaterOrEqual(t, time.Since(start), time.Second, path)
	}
}

// TestTwinsLoading: during StartupDelay a twin drops every connection
// unanswered; Plain answers 503.
func TestTwinsLoading(t *testing.T) {
	for _, p := range twins {
		l := twin(t, p, Config{StartupDelay: time.Hour})
		_, err := http.Get(l.URL + "/health")
		assert.Error(t, err, "%s: no answer while loading", p)
	}
	l := listen(t, Config{Model: "m", StartupDelay: time.Hour})
	code, _ := get(t, l.URL+"/health")
	assert.Equal(t, 503, code)
	code, body := post(t, l.URL+"/v1/completions", `{"model":"m","prompt":"x"}`)
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "loading")
}

// TestTwinsMidStreamFailure: vLLM and SGLang send an error event (and
// [DONE]); TensorRT-LLM drops the connection.
func TestTwinsMidStreamFailure(t *testing.T) {
	for _, p := range []Personality{VLLM, SGLang} {
		l := twin(t, p, Config{FailAfter: 2})
		_, body := post(t, l.URL+"/v1/chat/completions", chatBody)
		ev := events(body)
		require.GreaterOrEqual(t, len(ev), 2, "%s: %q", p, ev)
		assert.Contains(t, ev[len(ev)-2], `{"error":{`, p)
		assert.Equal(t, "[DONE]", ev[len(ev)-1], p)
		rec := client(t, l, loadgen.Chat, true, false).Do(context.Background(), loadgen.Request{Prompt: "p", MaxTokens: 5}, time.Now())
		assert.Equal(t, loadgen.KindServer, rec.ErrorKind, "%s: %s", p, rec.Error)
	}
	l := twin(t, TRTLLM, Config{FailAfter: 2})
	rec := client(t, l, loadgen.Chat, true, false).Do(context.Background(), loadgen.Request{Prompt: "p", MaxTokens: 5}, time.Now())
	assert.Contains(t, []loadgen.ErrorKind{loadgen.KindTransport, loadgen.KindTruncated}, rec.ErrorKind, rec.Error)
	assert.Len(t, rec.Events, 2, "the tokens before the failure arrived")
	resp, err := http.Post(l.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Error(t, err, "the connection is dropped mid-body")
	assert.NotContains(t, string(b), "[DONE]")
	assert.NotContains(t, string(b), `"error"`)
}

// TestTwinMetricsParse: vLLM's and SGLang's /metrics carry the names
// servermetrics maps, read while a request runs.
func TestTwinMetricsParse(t *testing.T) {
	want := map[Personality][]servermetrics.Quantity{
		VLLM: {servermetrics.Running, servermetrics.Waiting, servermetrics.KVUsage, servermetrics.Preemptions,
			servermetrics.PrefixHits, servermetrics.PrefixQueries},
		SGLang: {servermetrics.Running, servermetrics.Waiting, servermetrics.KVUsage, servermetrics.PrefixHitRate},
	}
	for p, qs := range want {
		l := twin(t, p, Config{EnableMetrics: true, Timing: Linear{Base: 5 * time.Millisecond}})
		for p == SGLang && !l.Server.warm.Load() {
			time.Sleep(time.Millisecond) // the warm-up generation runs first
		}
		done := make(chan struct{})
		go func() {
			// A long request to hold the batch while /metrics is read; the
			// server is closed under it at the end, so its error (EOF) is
			// expected and not the test's concern.
			defer close(done)
			resp, err := http.Post(l.URL+"/v1/completions", "application/json",
				strings.NewReader(`{"model":"m","prompt":"a long enough prompt","max_tokens":2000,"ignore_eos":true}`))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}()
		for running, _, _ := l.Server.sched.stats(); running == 0; running, _, _ = l.Server.sched.stats() {
			time.Sleep(time.Millisecond)
		}
		for l.Server.sched.counters().context == 0 {
			time.Sleep(time.Millisecond) // a step has run: context held
		}
		snap, err := servermetrics.Scrape(context.Background(), http.DefaultClient, l.URL+"/metrics")
		require.NoError(t, err, p)
		for _, q := range qs {
			v, ok := snap[q]
			require.True(t, ok, "%s: %s missing", p, q)
			assert.Equal(t, string(p), v.Engine, q)
		}
		assert.Equal(t, 1.0, snap[servermetrics.Running].V, p)
		assert.Greater(t, snap[servermetrics.KVUsage].V, 0.0, p)
		l.Close()
		<-done
	}
}
