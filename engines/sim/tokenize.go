package sim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
)

// The tokenize endpoints: POST /tokenize on the plain simulator and the
// vLLM twin, POST /tokenize and /v1/tokenize on the SGLang twin; the
// TensorRT-LLM twin has none, as trtllm-serve has none
// (docs/engine-facts.md, "Tokenize endpoints"). The tokens are the
// simulator's own: four bytes of the rendered text a token
// (PromptTokens), so that count is what usage.prompt_tokens reports for
// the same prompt, with the chat template's chatTemplateTokens for
// messages.

// tokenizeRequest is vLLM's TokenizeRequest, the union of
// TokenizeCompletionRequest (model, prompt, add_special_tokens,
// return_token_strs) and TokenizeChatRequest (model, messages,
// add_generation_prompt, ...): vllm/entrypoints/openai/protocol.py
// (VLLM@0052bed3, about v0.10; the same fields in newer
// vllm/entrypoints/serve/tokenize/protocol.py). Fields the simulator
// cannot honour (add_special_tokens, add_generation_prompt, chat_template)
// are accepted and ignored, as OpenAIBaseModel accepts unknown ones.
type tokenizeRequest struct {
	Model           string          `json:"model"`
	Prompt          json.RawMessage `json:"prompt"`
	Messages        []message       `json:"messages"`
	ReturnTokenStrs bool            `json:"return_token_strs"`
}

// tokenizeResponse is vLLM's TokenizeResponse: count, max_model_len,
// tokens, token_strs (None unless return_token_strs; model_dump keeps
// the null).
type tokenizeResponse struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []int    `json:"tokens"`
	TokenStrs   []string `json:"token_strs"`
}

// Token ids: a 4-byte piece of text maps to an id below vocabSize; the
// chat template's tokens and an empty prompt's one token get ids of
// their own above the text's (Llama's special tokens start at 128000).
const (
	vocabSize    = 128000
	specialToken = 128000
)

// tokenIDs is the simulator's tokenization of text: PromptTokens(text)
// ids, one per four bytes, and their strings.
func tokenIDs(text string) ([]int, []string) {
	if text == "" {
		return []int{specialToken}, []string{""}
	}
	n := PromptTokens(text)
	ids, strs := make([]int, 0, n), make([]string, 0, n)
	for i := 0; i < len(text); i += 4 {
		piece := text[i:min(i+4, len(text))]
		h := fnv.New32a()
		_, _ = h.Write([]byte(piece))
		ids = append(ids, int(h.Sum32()%vocabSize))
		strs = append(strs, piece)
	}
	return ids, strs
}

// templateIDs are the chat template's tokens, in front of the messages'.
func templateIDs() ([]int, []string) {
	ids, strs := make([]int, chatTemplateTokens), make([]string, chatTemplateTokens)
	for i := range ids {
		ids[i] = specialToken + 1 + i
		strs[i] = fmt.Sprintf("<|template_%d|>", i)
	}
	return ids, strs
}

// tokenize serves vLLM's POST /tokenize (and the plain simulator's, in
// the same shape): a prompt, or chat messages rendered as generation
// renders them (promptText) after the template's tokens. The model is
// checked as generation checks it in vLLM: omitted is the served name,
// any other name is 404 (_check_model, serving_tokenization.py,
// VLLM@0492d792; stable).
func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	if !s.loaded() {
		s.fail(w, http.StatusServiceUnavailable, "", "the model is loading")
		return
	}
	var req tokenizeRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("invalid JSON body: %v", err))
		return
	}
	if req.Model != "" && req.Model != s.cfg.Model {
		s.fail(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	var ids []int
	var strs []string
	switch {
	case req.Messages != nil:
		text, err := promptText(request{Messages: req.Messages}, true)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "Bad Request", err.Error())
			return
		}
		ids, strs = templateIDs()
		tids, tstrs := tokenIDs(text)
		ids, strs = append(ids, tids...), append(strs, tstrs...)
	case req.Prompt != nil:
		text, err := promptText(request{Prompt: req.Prompt}, false)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "Bad Request", err.Error())
			return
		}
		ids, strs = tokenIDs(text)
	default:
		s.fail(w, http.StatusBadRequest, "Bad Request", `a "prompt" (TokenizeCompletionRequest) or "messages" (TokenizeChatRequest) is required`)
		return
	}
	resp := tokenizeResponse{Count: len(ids), MaxModelLen: maxModelLen, Tokens: ids}
	if req.ReturnTokenStrs {
		resp.TokenStrs = strs
	}
	writeJSON(w, http.StatusOK, resp)
}

// sglangTokenize is SGLang's /tokenize and /v1/tokenize
// (OpenAIServingTokenize, python/sglang/srt/entrypoints/openai/
// serving_tokenize.py, SGL@0351c1fa): prompt is a string, answered
// {"tokens": [...], "count": n, "max_model_len": L}, or a list of
// strings, answered with a list of token lists and a list of counts.
// max_model_len is the tokenizer's model_max_length there; the twin
// gives the context length it serves. No chat form, no model check
// (neither was seen in the handler).
func (s *Server) sglangTokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt json.RawMessage `json:"prompt"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("invalid JSON body: %v", err))
		return
	}
	var one string
	if json.Unmarshal(req.Prompt, &one) == nil {
		ids, _ := tokenIDs(one)
		writeJSON(w, http.StatusOK, map[string]any{"tokens": ids, "count": len(ids), "max_model_len": maxModelLen})
		return
	}
	var many []string
	if err := json.Unmarshal(req.Prompt, &many); err != nil {
		s.fail(w, http.StatusBadRequest, "BadRequest", "Invalid prompt type: expected str or List[str].")
		return
	}
	tokens, counts := make([][]int, len(many)), make([]int, len(many))
	for i, text := range many {
		tokens[i], _ = tokenIDs(text)
		counts[i] = len(tokens[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens, "count": counts, "max_model_len": maxModelLen})
}
