package sim

import (
	"fmt"
	"io"
	"net/http"
)

// The vLLM twin: vllm/vllm-openai:v0.12.0 (testdata/engines.yaml). Every
// fact is from docs/engine-facts.md ("vLLM"), which names the commit read;
// the pinned tag itself could not be read, so "stable" below means the
// behaviour is the same in every stored version seen.

const vllmVersion = "0.12.0"

func vllmContract() contract {
	return contract{
		// owned_by "vllm": ModelCard in vllm/entrypoints/openai/protocol.py
		// (VLLM@0052bed3, about v0.10).
		ownedBy: "vllm",
		routes:  vllmRoutes,
		check:   vllmCheck,
		style: streamStyle{
			// First chunk delta {"role":"assistant","content":""}
			// (DeltaMessage(role=role, content=""), serving_chat.py; stable).
			roleContent: true,
			// Tokens a sequence produced while its client was behind go
			// out in one chunk (MergeAt makes it deterministic).
			merge: true,
			// StreamOptions.include_usage defaults to True,
			// continuous_usage_stats to False (protocol.py, VLLM@0052bed3).
			usageDefault: true,
			// The generator catches the exception, yields
			// data: {"error": {...}} then data: [DONE]
			// (_create_streaming_error_response; connection kept).
			failure: failEventDone,
			// ErrorResponse(error=ErrorInfo(message, type, param, code)):
			// nested since about v0.10.
			errorBody: nestedError,
		},
	}
}

// vllmRoutes: /health (200 while the engine lives, no generation),
// /v1/models, /version ({"version": VLLM_VERSION}) and /metrics
// (Prometheus, always mounted), from register_vllm_serve_api_routers in
// vllm/entrypoints/openai/api_server.py (VLLM@0001948b, newer than
// v0.12.0; the per-route code at v0.12.0 was not re-read). None answers
// before the model has loaded: uvicorn starts on the bound socket only
// after build_async_engine_client (same file) — see refuse.
func vllmRoutes(s *Server, mux *http.ServeMux) {
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": vllmVersion})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{s.modelCard()}})
	})
	mux.HandleFunc("GET /metrics", s.vllmMetrics)
	// POST /tokenize (and /detokenize, not served): the tokenize router,
	// vllm/entrypoints/serve/tokenize/api_router.py (VLLM@045d7575, newer
	// than v0.12.0); the same route in api_server.py of older versions.
	mux.HandleFunc("POST /tokenize", s.tokenize)
}

// vllmCheck: unknown fields are accepted and ignored (OpenAIBaseModel
// extra="allow" with a validator that only logs them; stable). An
// omitted model is the first served name; any other name is 404
// NotFoundError "The model `X` does not exist." (_check_model in
// serving_engine.py / serving_models.py; stable).
func vllmCheck(s *Server, w http.ResponseWriter, _ bool, _ []byte, req *request) bool {
	if req.Model == "" {
		req.Model = s.cfg.Model
	}
	if req.Model != s.cfg.Model {
		s.fail(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return false
	}
	return true
}

// vllmMetrics serves vLLM's own names (vllm/v1/metrics/loggers.py, stable
// across the stored versions): the gauges vllm:num_requests_running,
// vllm:num_requests_waiting and vllm:kv_cache_usage_perc (1 = 100 %), the
// counters vllm:num_preemptions, vllm:prefix_cache_queries and
// vllm:prefix_cache_hits (in tokens; exposed with _total), and the token
// counters, labelled model_name and engine. The prefix-cache counters are
// the simulator's prefix cache (prefixcache.go): queries += the prompt
// tokens of each admitted request, hits += those the cache held
// (record_prefix_cache_stats in vllm/v1/core/kv_cache_manager.py,
// VLLM@003df296; stable); vllm:prompt_tokens counts whole prompts, cached
// tokens included, once their prefill ends. The simulator never preempts.
func (s *Server) vllmMetrics(w http.ResponseWriter, _ *http.Request) {
	running, waiting, _ := s.sched.stats()
	t := s.sched.counters()
	lbl := fmt.Sprintf(`{engine="0",model_name=%q}`, s.cfg.Model)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	for _, m := range []promMetric{
		{"vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", float64(running)},
		{"vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", float64(waiting)},
		{"vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", s.kvUsage(t)},
		{"vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", 0},
		{"vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", float64(t.cacheQueries)},
		{"vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", float64(t.cacheHits)},
		{"vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", float64(t.prompt)},
		{"vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", float64(t.generated)},
	} {
		m.write(w, lbl)
	}
}

// promMetric is one single-series family in the Prometheus text format.
type promMetric struct {
	name, typ, help string
	v               float64
}

func (m promMetric) write(w io.Writer, labels string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s%s %g\n", m.name, m.help, m.name, m.typ, m.name, labels, m.v)
}

// kvUsage is the share of Config.KVTokens the running batch holds.
func (s *Server) kvUsage(t totals) float64 { return float64(t.context) / float64(s.cfg.KVTokens) }
