package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// contract is one personality's HTTP contract: the pieces the shared
// server (server.go) calls where engines differ. Each twin_*.go file
// builds one, citing the engine source of each behaviour
// (docs/engine-facts.md names the commit that was read and what is
// unverified at the pinned version).
type contract struct {
	ownedBy string // /v1/models owned_by
	// routes registers the engine's routes besides the two generation
	// APIs, which every personality serves.
	routes func(s *Server, mux *http.ServeMux)
	// check validates the body of a generation request (chat or
	// completions) before the shared decoding; it writes the engine's
	// error answer and returns false to refuse the request.
	check func(s *Server, w http.ResponseWriter, chat bool, body []byte, req *request) bool
	style streamStyle
}

// streamStyle is how a personality shapes its event stream.
type streamStyle struct {
	roleContent    bool // the role chunk carries "content": "" (vLLM, SGLang)
	roleSpace      bool // the role chunk ends "} \n\n" (TensorRT-LLM)
	echoModel      bool // chunks carry the request's model, not the served name
	merge          bool // tokens produced since the last chunk go out in one chunk
	separateFinish bool // finish_reason in its own chunk after the last token (SGLang)
	// continuousDefault: per-chunk usage unless the request says
	// continuous_usage_stats: false (TensorRT-LLM 1.x).
	continuousDefault bool
	usageDefault      bool // include_usage is true once stream_options is sent (vLLM, TensorRT-LLM)
	cachedTokens      bool // usage carries prompt_tokens_details.cached_tokens
	// failure is how a stream ends when Config.FailAfter strikes.
	failure failure
	// errorBody is the JSON of an error answer; streamError that of an
	// error event (errorBody where nil).
	errorBody, streamError func(code int, typ, msg string) any
}

// failure is what an engine does when generation fails mid-stream.
type failure int

const (
	failEvent     failure = iota // an error event, then the stream ends
	failEventDone                // an error event, then data: [DONE]
	failDrop                     // the connection is dropped: no event, no [DONE]
)

func contractFor(p Personality) contract {
	switch p {
	case VLLM:
		return vllmContract()
	case SGLang:
		return sglangContract()
	case TRTLLM:
		return trtllmContract()
	}
	return plainContract()
}

// plainContract is the simulator's own contract, as before the twins.
func plainContract() contract {
	return contract{
		ownedBy: "infbench-sim",
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
				if !s.loaded() {
					w.WriteHeader(http.StatusServiceUnavailable) // Config.StartupDelay
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			mux.HandleFunc("GET /v1/models", s.models)
			mux.HandleFunc("GET /metrics", s.metrics)
			mux.HandleFunc("POST /tokenize", s.tokenize) // vLLM's shape (tokenize.go)
		},
		check: func(s *Server, w http.ResponseWriter, _ bool, _ []byte, req *request) bool {
			if req.Model != s.cfg.Model {
				s.fail(w, http.StatusNotFound, "NotFoundError", fmt.Sprintf("The model `%s` does not exist.", req.Model))
				return false
			}
			return true
		},
		style: streamStyle{roleContent: true, failure: failEvent, errorBody: plainError},
	}
}

// flatError is the legacy OpenAI-style error object at the top level
// (the simulator's own, and SGLang's ErrorResponse).
func flatError(code int, typ, msg string) any {
	return map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": code}
}

// nestedError is {"error": {...}} (vLLM's ErrorResponse(error=ErrorInfo)).
func nestedError(code int, typ, msg string) any {
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
}

// fail answers an error in the personality's body shape.
func (s *Server) fail(w http.ResponseWriter, code int, typ, msg string) {
	writeJSON(w, code, s.contract.style.errorBody(code, typ, msg))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, text)
}

// loaded reports whether Config.StartupDelay has passed since New.
func (s *Server) loaded() bool { return !time.Now().Before(s.readyAt) }

// refuse drops the connection without an answer: what a client sees of
// an engine whose socket is bound but not listening yet. Inside the
// container the connect is refused; through Docker's published port,
// docker-proxy accepts and then closes (docs/engine-facts.md,
// contradiction 1). The twin cannot refuse the connect on a port it
// already listens on, so it answers as docker-proxy does.
func refuse(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset, as a closed port does
	}
	_ = conn.Close()
}

// generateInternally runs a generation of prompt and target tokens
// through the scheduler, as a health check or warm-up does, and waits
// for its end.
func (s *Server) generateInternally(ctx context.Context, prompt, target int) error {
	sq := newSeq(prompt, target)
	defer close(sq.gone)
	select {
	case s.sched.in <- sq:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		if _, done := sq.progress(); done {
			return nil
		}
		select {
		case <-sq.notify:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// modelCard is one /v1/models entry with the fields vLLM and SGLang
// share (ModelCard: id, object, created, owned_by, root, max_model_len).
func (s *Server) modelCard() map[string]any {
	return map[string]any{"id": s.cfg.Model, "object": "model", "created": s.created,
		"owned_by": s.contract.ownedBy, "root": s.cfg.Model, "parent": nil, "max_model_len": maxModelLen}
}

const maxModelLen = 131072
