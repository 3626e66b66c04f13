// Package sim is a simulated LLM serving engine: an OpenAI-compatible
// streaming server (/v1/chat/completions, /v1/completions, /v1/models,
// /health, /metrics, /tokenize) in front of a continuous-batching
// scheduler whose step time comes from a Timing model. TTFT grows with
// concurrency (queueing and prefill), decode slows as the batch grows, and
// throughput saturates at MaxBatch, as on a GPU. It is what
// `go test -bench=.` measures without a GPU, and what cmd/infbench-sim
// serves.
//
// A prefix cache modelled on vLLM's (prefixcache.go: 16-token blocks of
// the rendered prompt, a hash chain, least recently used out,
// Config.PrefixCacheTokens) lets the prompt tokens it holds skip prefill,
// so shared-prefix and multi-turn traffic is faster than the same lengths
// salted apart; /metrics counts its queries and hits in tokens. /tokenize
// splits a text as the simulator counts it, four bytes a token.
//
// Wire format, as vLLM sends it: a role-only first chunk for chat, one chunk
// per token, finish_reason on the last content chunk, a usage-only chunk
// with "choices": [] when stream_options.include_usage is set (usage on
// every chunk with continuous_usage_stats), then "data: [DONE]".
// max_tokens defaults to 16; without ignore_eos a request stops at a
// pseudo-random natural length (finish_reason "stop"), so a client that
// forgets ignore_eos sees short outputs, as it would on a real engine.
//
// Config.Personality makes the server a twin of one engine at the version
// testdata/engines.yaml pins, each behaviour cited in a comment to the
// engine source docs/engine-facts.md read (and marked where it was not
// verified at the pin): twin_vllm.go, twin_sglang.go, twin_trtllm.go, on
// the shared pieces of twin.go and stream.go. A twin reproduces routes
// and their timing (loading, SGLang's warm-up and 1 s health_generate,
// TensorRT-LLM's generating health_generate), request validation
// (TensorRT-LLM's extra="forbid" per API, unknown model names), the
// stream's shape (role chunk, merged tokens, SGLang's finish chunk,
// per-chunk usage, TensorRT-LLM's framing and dropped connection) and
// the engine's own /metrics names, which package servermetrics maps. It
// cannot reproduce the engines' numbers: timing is the Timing model's.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a simulated engine.
type Config struct {
	Model      string // served model name (TensorRT-LLM: the checkpoint id)
	MaxBatch   int    // sequences in the running batch (default 256)
	MaxPrefill int    // prompt tokens prefilled per step (default 8192)
	Timing     Timing // default DefaultTiming()
	// Personality makes the simulator a twin of one engine; Plain (the
	// zero value) keeps its own contract.
	Personality Personality

	// StartupDelay is how long the engine "loads its model" after New.
	// Plain answers /health and generation with 503 meanwhile; the twins
	// drop every connection unanswered, as the engines' unlistened
	// sockets look through a Docker published port (twin.go, refuse).
	// SGLang then warms up (twin_sglang.go) before its health routes
	// answer 200.
	StartupDelay time.Duration
	// EnableMetrics mounts the Prometheus endpoint where the engine needs
	// a switch for it: SGLang's --enable-metrics (/metrics) and
	// TensorRT-LLM's return_perf_metrics: true (/prometheus/metrics).
	// Plain and vLLM always serve /metrics.
	EnableMetrics bool
	// MergeAt: when the running batch holds at least MergeAt sequences,
	// the vLLM and SGLang twins send each sequence's tokens two to a
	// chunk (the scheduler hands them over every second step), as those
	// engines merge the tokens a sequence produced while its client was
	// behind. Zero: 64; negative: never. Plain and TensorRT-LLM (one
	// chunk per iteration) ignore it.
	MergeAt int
	// FailAfter makes every stream fail after this many tokens (0:
	// never), for tests of mid-stream errors: vLLM and SGLang send an
	// error event and [DONE], TensorRT-LLM drops the connection, Plain
	// sends an error event.
	FailAfter int
	// KVTokens is the KV-cache capacity in tokens behind the twins' usage
	// gauges (vllm:kv_cache_usage_perc, sglang:token_usage); default
	// 1<<20. The simulator never preempts: usage above 1 is reported as is.
	KVTokens int
	// PrefixCacheTokens is the prefix cache's capacity in tokens
	// (prefixcache.go: blocks of CacheBlockTokens, least recently used
	// out): 0 gives DefaultPrefixCacheTokens, a negative value turns the
	// cache off. Prompt tokens it holds skip prefill.
	PrefixCacheTokens int
}

// Server is a simulated engine. Create it with New, run its scheduler with
// Run, and serve it as an http.Handler.
type Server struct {
	cfg      Config
	contract contract
	sched    *scheduler
	mux      *http.ServeMux
	readyAt  time.Time // end of StartupDelay
	created  int64
	warm     atomic.Bool         // SGLang's warm-up finished (server_status Up)
	last     atomic.Pointer[seq] // the last request admitted, for tests
}

// New returns a server for cfg, filling in defaults. A personality
// ParsePersonality rejects is served as Plain (Listen refuses it).
func New(cfg Config) *Server {
	if _, err := ParsePersonality(string(cfg.Personality)); err != nil {
		cfg.Personality = Plain
	}
	if cfg.Model == "" {
		cfg.Model = "sim"
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.MaxPrefill <= 0 {
		cfg.MaxPrefill = 8192
	}
	if cfg.Timing == nil {
		cfg.Timing = DefaultTiming()
	}
	if cfg.MergeAt == 0 {
		cfg.MergeAt = 64
	}
	if cfg.KVTokens <= 0 {
		cfg.KVTokens = 1 << 20
	}
	if cfg.PrefixCacheTokens == 0 {
		cfg.PrefixCacheTokens = DefaultPrefixCacheTokens
	}
	now := time.Now()
	s := &Server{cfg: cfg, contract: contractFor(cfg.Personality), readyAt: now.Add(cfg.StartupDelay), created: now.Unix(),
		sched: &scheduler{timing: cfg.Timing, maxBatch: cfg.MaxBatch,
			maxPrefill: cfg.MaxPrefill, in: make(chan *seq, 1024), cache: newPrefixCache(cfg.PrefixCacheTokens)}}
	if s.contract.style.merge && cfg.MergeAt > 0 {
		s.sched.mergeAt = cfg.MergeAt
	}
	mux := http.NewServeMux()
	s.contract.routes(s, mux)
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler. A twin still loading its model
// drops the connection unanswered.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Personality != Plain && !s.loaded() {
		refuse(w)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Run runs the scheduler until ctx is done. Requests sent while it is not
// running wait. An SGLang twin warms up once its StartupDelay has passed.
func (s *Server) Run(ctx context.Context) {
	if s.cfg.Personality == SGLang {
		go s.warmUp(ctx)
	}
	s.sched.run(ctx)
}

// PeakBatch is the largest running batch seen.
func (s *Server) PeakBatch() int { _, _, p := s.sched.stats(); return p }

// PeakInFlight is the most requests the generation handlers have held at
// once since start (running and waiting), as sim:peak_requests_in_flight
// exports it.
func (s *Server) PeakInFlight() int { return s.sched.peakInFlight() }

// Listening is a simulated engine served on a loopback port.
type Listening struct {
	URL    string // http://127.0.0.1:port
	Server *Server
	stop   func()
}

// Close stops the HTTP server and the scheduler.
func (l *Listening) Close() { l.stop() }

// Listen serves a new simulated engine on addr ("127.0.0.1:0" for any free
// loopback port) until Close or ctx is done.
func Listen(ctx context.Context, addr string, cfg Config) (*Listening, error) {
	if _, err := ParsePersonality(string(cfg.Personality)); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen on %s: %w", addr, err)
	}
	srv := New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{}, 2)
	go func() { srv.Run(ctx); done <- struct{}{} }()
	go func() { _ = hs.Serve(ln); done <- struct{}{} }()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	stop := sync.OnceFunc(func() {
		cancel()
		<-done
		<-done
	})
	return &Listening{URL: "http://" + ln.Addr().String(), Server: srv, stop: stop}, nil
}

type request struct {
	Model               string          `json:"model"`
	Messages            []message       `json:"messages"`
	Prompt              json.RawMessage `json:"prompt"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	IgnoreEOS           bool            `json:"ignore_eos"`
	StreamOptions       *struct {
		IncludeUsage         *bool `json:"include_usage"`
		ContinuousUsageStats *bool `json:"continuous_usage_stats"`
	} `json:"stream_options"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []map[string]any{
		{"id": s.cfg.Model, "object": "model", "owned_by": "infbench-sim", "max_model_len": 131072}}})
}

// metrics serves the scheduler's state in the Prometheus text format
// (version 0.0.4), named as vLLM names its own (vllm/v1/metrics/loggers.py)
// with the prefix sim:. The simulator models no KV-cache capacity, so it
// exports no KV usage; it never preempts, so its preemption counter stays
// at 0. The prefix-cache counters count tokens, as vLLM's
// vllm:prefix_cache_queries and vllm:prefix_cache_hits do (0 with the
// cache off, as vLLM records nothing without prefix caching).
// sim:peak_requests_in_flight is the simulator's own: the most requests
// its generation handlers held at once since start.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	running, waiting, _ := s.sched.stats()
	t := s.sched.counters()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	for _, m := range []promMetric{
		{"sim:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", float64(t.cacheQueries)},
		{"sim:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", float64(t.cacheHits)},
		{"sim:peak_requests_in_flight", "gauge", "Most requests held at once (running and waiting) since start.", float64(s.PeakInFlight())},
	} {
		m.write(w, "")
	}
	fmt.Fprintf(w, "# HELP sim:num_requests_running Number of requests in the running batch.\n"+
		"# TYPE sim:num_requests_running gauge\n"+
		"sim:num_requests_running %d\n"+
		"# HELP sim:num_requests_waiting Number of requests waiting to join the batch.\n"+
		"# TYPE sim:num_requests_waiting gauge\n"+
		"sim:num_requests_waiting %d\n"+
		"# HELP sim:max_batch Largest running batch the scheduler admits (max_batch).\n"+
		"# TYPE sim:max_batch gauge\n"+
		"sim:max_batch %d\n"+
		"# HELP sim:num_preemptions_total Requests preempted (the simulator never preempts).\n"+
		"# TYPE sim:num_preemptions_total counter\n"+
		"sim:num_preemptions_total 0\n",
		running, waiting, s.cfg.MaxBatch)
}

// plainError is the simulator's own error body.
func plainError(code int, _, msg string) any {
	return map[string]any{"object": "error", "type": http.StatusText(code), "code": code, "message": msg}
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	if s.cfg.Personality == Plain && !s.loaded() {
		s.fail(w, http.StatusServiceUnavailable, "", "the model is loading")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<20))
	var req request
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("invalid JSON body: %v", err))
		return
	}
	if !s.contract.check(s, w, chat, body, &req) {
		return
	}
	text, err := promptText(req, chat)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Bad Request", err.Error()) // a validation error
		return
	}
	maxTokens := 16
	if req.MaxCompletionTokens != nil {
		maxTokens = *req.MaxCompletionTokens
	}
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	if maxTokens < 1 {
		s.fail(w, http.StatusBadRequest, "BadRequestError", fmt.Sprintf("max_tokens must be at least 1, got %d", maxTokens))
		return
	}
	prompt := PromptTokens(text)
	if chat {
		prompt += chatTemplateTokens
	}
	target, reason := maxTokens, "length"
	if !req.IgnoreEOS {
		if n := naturalLength(text, maxTokens); n < maxTokens {
			target, reason = n, "stop"
		}
	}

	sq := newTextSeq(text, prompt, target)
	defer close(sq.gone)
	s.last.Store(sq)
	s.sched.enter(sq)
	select {
	case s.sched.in <- sq:
	case <-r.Context().Done():
		s.sched.leave(1) // never reached the scheduler
		return
	}

	st := s.newStream(w, req, chat, prompt, target, reason)
	if !req.Stream {
		s.whole(w, r, sq, &st)
		return
	}
	s.streamOut(w, r, sq, &st)
}

// newStream sets up the chunks of one response in the personality's style.
func (s *Server) newStream(w http.ResponseWriter, req request, chat bool, prompt, target int, reason string) stream {
	style := s.contract.style
	st := stream{w: w, style: style, chat: chat, model: s.cfg.Model,
		id:      "cmpl-sim-" + strconv.FormatUint(uint64(time.Now().UnixNano()), 36),
		created: time.Now().Unix(), prompt: prompt, reason: reason, final: target}
	if style.echoModel {
		st.model = req.Model
	}
	if o := req.StreamOptions; o != nil {
		st.usage = orDefault(o.IncludeUsage, style.usageDefault)
		st.continuous = orDefault(o.ContinuousUsageStats, style.continuousDefault)
		if s.cfg.Personality != Plain {
			// The engines' include_continuous_usage = include_usage and
			// continuous_usage_stats; Plain takes each flag by itself.
			st.continuous = st.usage && st.continuous
		}
	}
	return st
}

func orDefault(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// streamOut sends the event stream of sq as it is generated.
func (s *Server) streamOut(w http.ResponseWriter, r *http.Request, sq *seq, st *stream) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if st.chat {
		st.role()
	}
	if flusher != nil {
		flusher.Flush()
	}
	sent := 0
	for {
		select {
		case <-sq.notify:
		case <-r.Context().Done():
			return
		}
		n, done := sq.progress()
		if sent == 0 && n > 0 {
			st.cached = sq.cachedTokens() // known since admission
		}
		if f := s.cfg.FailAfter; f > 0 && n >= f {
			n, done = f, false
			st.emit(sent, n)
			s.failStream(w, st)
			return
		}
		st.emit(sent, n)
		sent = n
		if done {
			if st.style.separateFinish {
				st.finish()
			}
			if st.usage {
				st.usageChunk()
			}
			st.buf = append(st.buf, "data: [DONE]\n\n"...)
		}
		if _, err := w.Write(st.buf); err != nil {
			return
		}
		st.buf = st.buf[:0]
		if flusher != nil {
			flusher.Flush()
		}
		if done {
			return
		}
	}
}

// emit writes tokens [from, to): one chunk each, or one chunk for all of
// them where the personality merges (vLLM, SGLang): so tokens merge when
// the handler is behind the scheduler, as on the engines when the client
// is, and deterministically at Config.MergeAt.
func (st *stream) emit(from, to int) {
	if from >= to {
		return
	}
	if st.style.merge {
		st.tokens(from, to)
		return
	}
	for i := from; i < to; i++ {
		st.token(i)
	}
}

// failStream ends a stream as the personality does when generation
// fails (Config.FailAfter).
func (s *Server) failStream(w http.ResponseWriter, st *stream) {
	if st.style.failure == failDrop {
		_, _ = w.Write(st.buf)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // no error event, no [DONE], no chunked terminator
	}
	errorBody := st.style.streamError
	if errorBody == nil {
		errorBody = st.style.errorBody
	}
	body, _ := json.Marshal(errorBody(http.StatusInternalServerError, "InternalServerError",
		fmt.Sprintf("simulated engine failure after %d tokens (Config.FailAfter)", s.cfg.FailAfter)))
	st.errorEvent(body)
	if st.style.failure == failEventDone {
		st.buf = append(st.buf, "data: [DONE]\n\n"...)
	}
	_, _ = w.Write(st.buf)
}

// whole answers a non-streaming request once generation ends.
func (s *Server) whole(w http.ResponseWriter, r *http.Request, sq *seq, st *stream) {
	for {
		select {
		case <-sq.notify:
		case <-r.Context().Done():
			return
		}
		if _, done := sq.progress(); done {
			break
		}
	}
	var text []byte
	for i := range st.final {
		text = append(text, Token(i)...)
	}
	choice := map[string]any{"index": 0, "finish_reason": st.reason}
	object := "text_completion"
	if st.chat {
		choice["message"] = map[string]string{"role": "assistant", "content": string(text)}
		object = "chat.completion"
	} else {
		choice["text"] = string(text)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": st.id, "object": object, "created": st.created,
		"model": st.model, "choices": []any{choice},
		"usage": map[string]int{"prompt_tokens": st.prompt, "completion_tokens": st.final, "total_tokens": st.prompt + st.final}})
}

// promptText renders a request's prompt as the simulator tokenizes and
// caches it: the completion's prompt, or the chat messages' contents
// joined in order with nothing between them (the chat template's tokens
// are counted apart, chatTemplateTokens). An assistant message renders
// to its content alone, so a conversation that sends back the streamed
// answer (the Token words, exactly) renders each turn as a prefix of the
// next, and the next turn hits the prefix cache on the previous prompt
// and answer.
func promptText(req request, chat bool) (string, error) {
	if chat {
		if len(req.Messages) == 0 {
			return "", errors.New("messages: at least one message is required")
		}
		var text string
		for _, m := range req.Messages {
			var s string
			if err := json.Unmarshal(m.Content, &s); err != nil {
				s = string(m.Content) // content parts: count their bytes
			}
			text += s
		}
		return text, nil
	}
	var s string
	if err := json.Unmarshal(req.Prompt, &s); err != nil {
		return "", errors.New("prompt: a string is required")
	}
	return s, nil
}

// PromptTokens estimates the token count of a text as a BPE tokenizer
// would for English: about four bytes a token.
func PromptTokens(text string) int { return max(1, (len(text)+3)/4) }

// chatTemplateTokens is what a chat request's template adds to
// PromptTokens of its messages in usage.prompt_tokens.
const chatTemplateTokens = 8

// naturalLength is where generation would stop without ignore_eos:
// deterministic in the prompt, between a quarter and twice max.
func naturalLength(text string, max int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(text))
	lo := max/4 + 1
	return lo + int(h.Sum64()%uint64(2*max-lo+1))
}

var vocab = [...]string{" the", " model", " serves", " tokens", " quickly", ",", " and", " batching", " helps", "."}

// Token is the text of the i-th generated token.
func Token(i int) string { return vocab[i%len(vocab)] }
