package sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/loadgen"
)

type tokenized struct {
	Count       int       `json:"count"`
	MaxModelLen int       `json:"max_model_len"`
	Tokens      []int     `json:"tokens"`
	TokenStrs   *[]string `json:"token_strs"`
}

func tokenizeOK(t *testing.T, url, body string) tokenized {
	t.Helper()
	code, resp := post(t, url, body)
	require.Equal(t, 200, code, resp)
	var tk tokenized
	require.NoError(t, json.Unmarshal([]byte(resp), &tk), resp)
	return tk
}

// /tokenize counts what usage.prompt_tokens reports for the same text:
// a prompt as a completion's, messages as a chat request's (template
// included), on the plain simulator and the vLLM twin, in vLLM's shape.
func TestTokenizeMatchesUsage(t *testing.T) {
	prompt := strings.Repeat("tokenize me, ", 37) + "end"
	for _, l := range []*Listening{listen(t, Config{Model: "m", Timing: fast()}), twin(t, VLLM, Config{Timing: fast()})} {
		p := l.Server.cfg.Personality
		for _, api := range []loadgen.API{loadgen.Completions, loadgen.Chat} {
			rec := client(t, l, api, true, false).Do(context.Background(), loadgen.Request{Prompt: prompt, MaxTokens: 2}, time.Now())
			require.True(t, rec.OK(), "%s %s: %s", p, api, rec.Error)
			body := `{"model":"m","prompt":` + jsonString(prompt) + `}`
			if api == loadgen.Chat {
				body = `{"model":"m","messages":[{"role":"user","content":` + jsonString(prompt) + `}]}`
			}
			tk := tokenizeOK(t, l.URL+"/tokenize", body)
			assert.Equal(t, rec.PromptTokens, tk.Count, "%s %s: count is usage.prompt_tokens", p, api)
			assert.Len(t, tk.Tokens, tk.Count)
			assert.Equal(t, maxModelLen, tk.MaxModelLen)
			assert.Nil(t, tk.TokenStrs, "token_strs is null unless asked")
		}
	}
	l := twin(t, VLLM, Config{Timing: fast()})
	tk := tokenizeOK(t, l.URL+"/tokenize", `{"prompt":"abcdefghij","return_token_strs":true}`)
	require.NotNil(t, tk.TokenStrs)
	assert.Equal(t, []string{"abcd", "efgh", "ij"}, *tk.TokenStrs, "four bytes a token; an omitted model is the served one")
	code, body := post(t, l.URL+"/tokenize", `{"model":"other","prompt":"x"}`)
	assert.Equal(t, 404, code)
	assert.Contains(t, body, `{"error":{"code":404,"message":"The model `+"`other`"+` does not exist."`)
	code, body = post(t, l.URL+"/tokenize", `{"model":"m"}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "TokenizeCompletionRequest", "neither form: a validation error")
}

// SGLang serves /v1/tokenize and /tokenize with a prompt or a list of
// prompts; TensorRT-LLM serves no tokenize route.
func TestTokenizeTwins(t *testing.T) {
	l := twin(t, SGLang, Config{Timing: fast()})
	for _, path := range []string{"/v1/tokenize", "/tokenize"} {
		tk := tokenizeOK(t, l.URL+path, `{"model":"m","prompt":"abcdefghi"}`)
		assert.Equal(t, 3, tk.Count, path)
		assert.Len(t, tk.Tokens, 3, path)
	}
	code, body := post(t, l.URL+"/v1/tokenize", `{"prompt":["abcd","abcdefghi"]}`)
	require.Equal(t, 200, code, body)
	var many struct {
		Count  []int   `json:"count"`
		Tokens [][]int `json:"tokens"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &many))
	assert.Equal(t, []int{1, 3}, many.Count)
	assert.Len(t, many.Tokens, 2)

	code, _ = post(t, twin(t, TRTLLM, Config{Timing: fast()}).URL+"/tokenize", `{"prompt":"x"}`)
	assert.Equal(t, 404, code)
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
