package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrNoTokenizer is returned by Tokenize when the target has no tokenize
// route: none configured, or the server answered 404 (the route is not
// served).
var ErrNoTokenizer = errors.New("loadgen: the engine has no tokenize endpoint")

// tokenizeTimeout bounds one tokenize call: it does no generation.
const tokenizeTimeout = 30 * time.Second

// Tokenizer is where a workload's input lengths are measured: the path of
// the engine's tokenize route, for the cell summary to name.
func (c *Client) Tokenizer() string { return c.target.TokenizePath }

// Tokenize counts the tokens of text with the engine's own tokenizer:
// POST Target.TokenizePath {"model", "prompt"} → {"count", ...}. That is
// vLLM's shape: TokenizeCompletionRequest {model, prompt,
// add_special_tokens = true, return_token_strs} and TokenizeResponse
// {count, max_model_len, tokens, token_strs} in vllm-project/vllm
// vllm/entrypoints/openai/protocol.py (read at vLLM@ec3b890c, late 2025,
// near v0.12.0 but not at it; the POST /tokenize route of that era's
// entrypoints/openai/api_server.py was not read there), the same models
// moved to vllm/entrypoints/serve/tokenize/protocol.py and routed by
// serve/tokenize/api_router.py on 2026 main (read at vLLM@030ea52e,
// @045d7575). SGLang's is the same: sgl-project/sglang
// python/sglang/srt/entrypoints/http_server.py routes POST /tokenize and
// /v1/tokenize, read at SGL@0025436e, Oct–Nov 2025, not at v0.5.6.post2;
// openai/serving_tokenize.py answers {tokens, count, max_model_len},
// read at SGL@0351c1fa. The count includes the special tokens the
// engine adds to a completions prompt (BOS), as usage.prompt_tokens does.
// It returns ErrNoTokenizer when the target has no route or the server
// answers 404.
func (c *Client) Tokenize(ctx context.Context, text string) (int, error) {
	if c.target.TokenizePath == "" {
		return 0, ErrNoTokenizer
	}
	body, err := json.Marshal(map[string]string{"model": c.target.Model, "prompt": text})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, tokenizeTimeout)
	defer cancel()
	url := strings.TrimRight(c.target.BaseURL, "/") + c.target.TokenizePath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("tokenize: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.target.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("tokenize: POST %s: %w", c.target.TokenizePath, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode == http.StatusNotFound {
		return 0, fmt.Errorf("%w: POST %s answered 404", ErrNoTokenizer, c.target.TokenizePath)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("tokenize: POST %s: HTTP %d: %s (fix tokenize: in engines.yaml, or set it to \"\" to estimate lengths)",
			c.target.TokenizePath, resp.StatusCode, errorMessage(data))
	}
	var v struct {
		Count *int `json:"count"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Count == nil {
		return 0, fmt.Errorf("tokenize: POST %s: want {\"count\": N, ...}, got %s", c.target.TokenizePath, truncate(data, 200))
	}
	return *v.Count, nil
}
