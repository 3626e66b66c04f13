package sim

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// The SGLang twin: lmsysorg/sglang:v0.5.6.post2 (testdata/engines.yaml).
// Facts from docs/engine-facts.md ("SGLang"); the routes were read in
// python/sglang/srt/entrypoints/http_server.py at SGL@0025436e (about Oct
// to Nov 2025, before the pin), the stream in serving_chat.py.

const (
	sglangVersion = "0.5.6.post2"
	// sglangHealthTimeout is HEALTH_CHECK_TIMEOUT
	// (SGLANG_HEALTH_CHECK_TIMEOUT, 20 s in an older copy).
	sglangHealthTimeout = 20 * time.Second
	// sglangWarmupTokens: the warm-up POST /generate asks max_new_tokens 8
	// ("The capital city of France is").
	sglangWarmupTokens = 8
	// sglangDecodeLogInterval is --decode-log-interval's default, 40
	// (ServerArgs.decode_log_interval in python/sglang/srt/server_args.py,
	// stable in the stored copies): every 40th decode batch logs its stats
	// and sets sglang:cache_hit_rate to 0.
	sglangDecodeLogInterval = 40
)

func sglangContract() contract {
	return contract{
		ownedBy: "sglang",
		routes:  sglangRoutes,
		// Unknown model names: not verified (protocol.py and
		// serving_base.py were not opened); SGLang echoes request.model in
		// its chunks, which suggests it does not check the name, so the
		// twin accepts any name and echoes it. Whether its request models
		// forbid extra fields was not verified either: accepted.
		check: func(*Server, http.ResponseWriter, bool, []byte, *request) bool { return true },
		style: streamStyle{
			// First chunk delta {"role":"assistant","content":""},
			// model=request.model (serving_chat.py, stable in three
			// stored versions).
			roleContent: true,
			echoModel:   true,
			// Several tokens in one chunk under load (DESIGN.md; not
			// re-read in the source): MergeAt makes it deterministic.
			merge: true,
			// finish_reason in a trailing chunk of its own (DESIGN.md;
			// not re-read).
			separateFinish: true,
			// continuous_usage_stats: PR #12241 (merged 2025-10-28,
			// "disabled by default"), before the pin. include_usage's
			// default was not read: off unless asked.
			// Errors in the stream: data: {"error": {...}}
			// (create_streaming_error_response), then data: [DONE] (the
			// [DONE] after the error is not verified).
			failure:     failEventDone,
			streamError: sglangStreamError,
			// ErrorResponse(object="error", message, type, param, code):
			// the flat legacy body (http_server.py).
			errorBody: flatError,
		},
	}
}

// sglangStreamError: inside the stream create_streaming_error_response
// wraps the flat ErrorResponse as {"error": {...}}.
func sglangStreamError(code int, typ, msg string) any {
	return map[string]any{"error": flatError(code, typ, msg)}
}

// sglangRoutes: /health and /health_generate (one handler),
// /get_model_info, /get_server_info, /v1/models and, with
// --enable-metrics (Config.EnableMetrics), /metrics
// (add_prometheus_middleware). No /version route exists in
// http_server.py; /server_info may post-date the pin and is not served.
func sglangRoutes(s *Server, mux *http.ServeMux) {
	mux.HandleFunc("GET /health", s.sglangHealth)
	mux.HandleFunc("GET /health_generate", s.sglangHealth)
	mux.HandleFunc("GET /get_model_info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"model_path": s.cfg.Model, "tokenizer_path": s.cfg.Model,
			"is_generation": true, "preferred_sampling_params": nil, "weight_version": "default"})
	})
	mux.HandleFunc("GET /get_server_info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"model_path": s.cfg.Model, "served_model_name": s.cfg.Model,
			"max_running_requests": s.cfg.MaxBatch, "enable_metrics": s.cfg.EnableMetrics,
			"internal_states": []any{}, "version": sglangVersion})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{s.modelCard()}})
	})
	if s.cfg.EnableMetrics {
		mux.HandleFunc("GET /metrics", s.sglangMetrics)
	}
	// /v1/tokenize, and /tokenize outside the schema, one handler
	// (openai_v1_tokenize in http_server.py, SGL@0025436e, before the pin).
	mux.HandleFunc("POST /tokenize", s.sglangTokenize)
	mux.HandleFunc("POST /v1/tokenize", s.sglangTokenize)
}

// warmUp is launch_server's warm-up thread: once the model has loaded
// (the port opens only after _launch_subprocesses returns), it sends one
// generation of sglangWarmupTokens tokens, then sets server_status Up.
func (s *Server) warmUp(ctx context.Context) {
	if d := time.Until(s.readyAt); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	if s.generateInternally(ctx, PromptTokens("The capital city of France is"), sglangWarmupTokens) == nil {
		s.warm.Store(true)
	}
}

// sglangHealth is health_generate: 503 while server_status is Starting
// (before the warm-up); otherwise it submits a 1-token generation and
// loops "await asyncio.sleep(1); if last_receive_tstamp > tic: return
// 200", so the earliest answer comes after 1 s, and any output of the
// scheduler since the probe began counts. 503 after HEALTH_CHECK_TIMEOUT.
func (s *Server) sglangHealth(w http.ResponseWriter, r *http.Request) {
	if !s.warm.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	tic := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), sglangHealthTimeout)
	defer cancel()
	go func() { _ = s.generateInternally(ctx, 1, 1) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if s.sched.counters().lastOutput.After(tic) {
				w.WriteHeader(http.StatusOK)
				return
			}
		case <-ctx.Done():
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
}

// sglangMetrics serves SGLang's names (python/sglang/srt/metrics/
// collector.py, stable across stored versions), labelled model_name:
// sglang:num_running_reqs, sglang:num_queue_reqs, sglang:token_usage (KV
// pool use, 0 to 1), sglang:cache_hit_rate, sglang:num_used_tokens,
// sglang:max_total_num_tokens, and the token counters.
//
// sglang:cache_hit_rate is a gauge set by the scheduler's stats logging
// (SchedulerMetricsMixin in python/sglang/srt/managers/
// scheduler_metrics_mixin.py, SGL@01bb3c80, newer than the pin; the same
// prefill formula in older scheduler.py copies): each prefill batch sets
// it to #cached-token / (#new-token + #cached-token) of the requests it
// admitted (log_prefill_stats), and every decode_log_interval-th decode
// batch sets it to 0.0 (log_decode_stats; UNVERIFIED AT PIN). So it is
// the last prefill batch's hit rate, not a rate over time; the twin sets
// it the same way from the simulator's prefix cache (totals.sglangHitRate).
func (s *Server) sglangMetrics(w http.ResponseWriter, _ *http.Request) {
	running, waiting, _ := s.sched.stats()
	t := s.sched.counters()
	lbl := fmt.Sprintf(`{model_name=%q}`, s.cfg.Model)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	for _, m := range []promMetric{
		{"sglang:num_running_reqs", "gauge", "The number of running requests.", float64(running)},
		{"sglang:num_queue_reqs", "gauge", "The number of requests in the waiting queue.", float64(waiting)},
		{"sglang:num_used_tokens", "gauge", "The number of used tokens.", float64(t.context)},
		{"sglang:max_total_num_tokens", "gauge", "Maximum total number of tokens in the KV cache pool.", float64(s.cfg.KVTokens)},
		{"sglang:token_usage", "gauge", "The token usage.", s.kvUsage(t)},
		{"sglang:cache_hit_rate", "gauge", "The prefix cache hit rate.", t.sglangHitRate},
		{"sglang:prompt_tokens_total", "counter", "Number of prefill tokens processed.", float64(t.prompt)},
		{"sglang:generation_tokens_total", "counter", "Number of generation tokens processed.", float64(t.generated)},
	} {
		m.write(w, lbl)
	}
}
