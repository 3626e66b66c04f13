package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// The TensorRT-LLM twin: nvcr.io/nvidia/tensorrt-llm/release:1.2.1
// (testdata/engines.yaml). Facts from docs/engine-facts.md
// ("TensorRT-LLM"): routes from tensorrt_llm/serve/openai_server.py at
// TRT@00057725 (2026 main, newer than 1.2.1), request models from
// tensorrt_llm/serve/openai_protocol.py at TRT@0076e939 (2026 main), the
// stream from tensorrt_llm/serve/postprocess_handlers.py at TRT@01bf1923.

const trtllmVersion = "1.2.1"

func trtllmContract() contract {
	return contract{
		ownedBy: "tensorrt_llm",
		routes:  trtllmRoutes,
		check:   trtllmCheck,
		style: streamStyle{
			// Role chunk: DeltaMessage(role=role, content=None) dumped with
			// exclude_none, so no "content" key, framed
			// f"data: {...} \n\n" (space before the blank line: stable in
			// every stored version); content chunks "data: {...}\n\n".
			roleSpace: true,
			// Chunks carry request.model (ChatPostprocArgs.from_request).
			echoModel: true,
			// One content chunk per engine iteration per choice; no merge.
			// finish_reason on the last content chunk.
			// StreamOptions: include_usage defaults to True once sent;
			// continuous_usage_stats True in 1.x until PR #10644 (Jan
			// 2026, main) set False: UNVERIFIED AT PIN, best estimate
			// True at 1.2.1.
			usageDefault:      true,
			continuousDefault: true,
			// The usage chunk is dumped without exclude_none and carries
			// prompt_tokens_details.cached_tokens: here the simulator's
			// prefix-cache hits (KV block reuse is TensorRT-LLM's own
			// prefix cache; its default at 1.2.1 was not read).
			cachedTokens: true,
			// chat_stream_generator: except: log; raise — the exception
			// escapes StreamingResponse: the connection drops, no error
			// event, no [DONE].
			failure: failDrop,
			// Errors raised in the handler: create_error_response, an
			// ErrorResponse {"object":"error","message","type":
			// "BadRequestError","param":null,"code":400}.
			errorBody: flatError,
		},
	}
}

// trtllmRoutes is register_routes() (openai_server.py): /health (200,
// empty body, while _check_health), /health_generate (a real 1-token chat
// generation), /version, /v1/models (the MODEL argument as id: the
// checkpoint string; Config.Model), /metrics (JSON iteration stats, not
// Prometheus), /perf_metrics and, only with return_perf_metrics: true
// (Config.EnableMetrics), /prometheus/metrics.
func trtllmRoutes(s *Server, mux *http.ServeMux) {
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /health_generate", s.trtllmHealthGenerate)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": trtllmVersion})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{map[string]any{
			"id": s.cfg.Model, "object": "model", "created": s.created, "owned_by": "tensorrt_llm"}}})
	})
	// Iteration stats from get_stats_async, drained by each poll; the
	// pytorch backend fills them only with enable_iter_perf_stats, which
	// the spec does not set: an empty list.
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, []any{}) })
	// [] unless return_perf_metrics and perf_metrics_max_requests > 0.
	mux.HandleFunc("GET /perf_metrics", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, []any{}) })
	if s.cfg.EnableMetrics {
		mux.HandleFunc("GET /prometheus/metrics", trtllmPrometheus)
	}
}

// trtllmPrometheus: the MetricsCollector's names
// (tensorrt_llm/metrics/collector.py) were not read, so the twin serves a
// valid exposition without families rather than invent them;
// servermetrics then reports that the engine exports none it maps.
func trtllmPrometheus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	fmt.Fprintln(w, "# infbench twin: the names of tensorrt_llm/metrics/collector.py were not read; none served")
}

// trtllmHealthGenerate builds ChatCompletionRequest(messages=[{"role":
// "user","content":"hi"}], max_completion_tokens=1, stream=False) and runs
// it: 200 "Generation health check OK", or 500 "Generation health check
// failed: <exc>".
func (s *Server) trtllmHealthGenerate(w http.ResponseWriter, r *http.Request) {
	if err := s.generateInternally(r.Context(), PromptTokens("hi")+8, 1); err != nil {
		writeText(w, http.StatusInternalServerError, "Generation health check failed: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "Generation health check OK")
}

// The request fields each API accepts: OpenAIBaseModel is
// ConfigDict(extra="forbid", populate_by_name=True) (stable: extra=
// "forbid"; populate_by_name UNVERIFIED AT PIN, so max_completion_tokens
// on chat is accepted as at main). ChatCompletionRequest has no prompt;
// CompletionRequest has no messages and no max_completion_tokens. The
// lists are the fields engine-facts.md names plus the common OpenAI
// sampling fields; the engine has more ("and more"), which the twin
// rejects.
var (
	trtllmCommon = []string{"model", "stream", "stream_options", "max_tokens", "ignore_eos", "min_tokens",
		"temperature", "top_p", "top_k", "seed", "stop", "n", "logprobs", "frequency_penalty",
		"presence_penalty", "repetition_penalty", "user", "logit_bias", "lora_request",
		"disaggregated_params", "response_format", "stop_token_ids", "min_p", "length_penalty"}
	trtllmChat = fieldSet(trtllmCommon, "messages", "max_completion_tokens", "top_logprobs", "tools",
		"tool_choice", "add_generation_prompt", "chat_template", "chat_template_kwargs", "cache_salt",
		"prompt_token_ids", "reasoning_effort")
	trtllmCompletion = fieldSet(trtllmCommon, "prompt", "echo", "best_of", "suffix", "use_beam_search")
	trtllmStreamOpts = fieldSet(nil, "include_usage", "continuous_usage_stats")
)

func fieldSet(base []string, more ...string) map[string]bool {
	m := make(map[string]bool, len(base)+len(more))
	for _, f := range append(append([]string{}, base...), more...) {
		m[f] = true
	}
	return m
}

// pydanticError is one entry of exc.errors().
type pydanticError struct{ typ, loc, msg string }

// trtllmCheck validates as pydantic does and answers a
// RequestValidationError as the custom handler does: HTTP 400 with
// {"error": str(exc)} — one string, not FastAPI's 422 {"detail": [...]}.
// The string imitates pydantic's errors() list; only the body's shape is
// from the source. Any model name is accepted and echoed (openai_chat
// and openai_completion never compare it with the served id).
func trtllmCheck(_ *Server, w http.ResponseWriter, chat bool, body []byte, req *request) bool {
	errs := trtllmValidate(chat, body, req)
	if len(errs) == 0 {
		return true
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		loc := "('body',)"
		if e.loc != "" {
			loc = "('body', " + e.loc + ")"
		}
		parts[i] = fmt.Sprintf("{'type': '%s', 'loc': %s, 'msg': '%s'}", e.typ, loc, e.msg)
	}
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": "[" + strings.Join(parts, ", ") + "]"})
	return false
}

func trtllmValidate(chat bool, body []byte, req *request) []pydanticError {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(body, &fields) // the shared decoding already checked the JSON
	allowed, required := trtllmCompletion, []string{"model", "prompt"}
	if chat {
		allowed, required = trtllmChat, []string{"messages", "model"}
	}
	var errs []pydanticError
	for _, f := range required {
		if _, ok := fields[f]; !ok {
			errs = append(errs, pydanticError{"missing", quote(f), "Field required"})
		}
	}
	for _, f := range sortedKeys(fields) {
		if !allowed[f] {
			errs = append(errs, pydanticError{"extra_forbidden", quote(f), "Extra inputs are not permitted"})
		}
	}
	if raw, ok := fields["stream_options"]; ok && string(raw) != "null" {
		var opts map[string]json.RawMessage
		_ = json.Unmarshal(raw, &opts)
		for _, f := range sortedKeys(opts) {
			if !trtllmStreamOpts[f] {
				errs = append(errs, pydanticError{"extra_forbidden", quote("stream_options") + ", " + quote(f), "Extra inputs are not permitted"})
			}
		}
		// CompletionRequest.validate_stream_options (mode="before").
		if !chat && !req.Stream {
			errs = append(errs, pydanticError{"value_error", "", "Value error, Stream options can only be defined when stream is true."})
		}
	}
	return errs
}

func quote(s string) string { return "'" + s + "'" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
