package sim

import (
	"net/http"
	"strconv"
)

// stream writes the SSE chunks of one response. Chunks are built by
// appending bytes rather than with encoding/json so that the simulator's
// own CPU cost per token stays far below the client's it shares the machine
// with. style says how the personality shapes them (twin.go).
type stream struct {
	w          http.ResponseWriter
	buf        []byte
	style      streamStyle
	chat       bool
	model, id  string
	created    int64
	prompt     int
	final      int
	reason     string
	usage      bool
	continuous bool
	cached     int // prompt tokens served by the prefix cache, once the first token is out
}

func (s *stream) head() {
	s.buf = append(s.buf, `data: {"id":"`...)
	s.buf = append(s.buf, s.id...)
	if s.chat {
		s.buf = append(s.buf, `","object":"chat.completion.chunk","created":`...)
	} else {
		s.buf = append(s.buf, `","object":"text_completion","created":`...)
	}
	s.buf = strconv.AppendInt(s.buf, s.created, 10)
	s.buf = append(s.buf, `,"model":`...)
	s.buf = strconv.AppendQuote(s.buf, s.model)
}

func (s *stream) usageJSON(completion int) {
	s.buf = append(s.buf, `"usage":{"prompt_tokens":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.prompt), 10)
	s.buf = append(s.buf, `,"total_tokens":`...)
	s.buf = strconv.AppendInt(s.buf, int64(s.prompt+completion), 10)
	s.buf = append(s.buf, `,"completion_tokens":`...)
	s.buf = strconv.AppendInt(s.buf, int64(completion), 10)
	if s.style.cachedTokens {
		s.buf = append(s.buf, `,"prompt_tokens_details":{"cached_tokens":`...)
		s.buf = strconv.AppendInt(s.buf, int64(s.cached), 10)
		s.buf = append(s.buf, '}')
	}
	s.buf = append(s.buf, '}')
}

// end closes a chunk, with per-chunk usage when asked.
func (s *stream) end(completion int) {
	if s.continuous {
		s.buf = append(s.buf, ',')
		s.usageJSON(completion)
	}
	s.buf = append(s.buf, "}\n\n"...)
}

func (s *stream) role() {
	s.head()
	if s.style.roleContent {
		s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
	} else {
		s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{"role":"assistant"},"logprobs":null,"finish_reason":null}]`...)
	}
	s.end(0)
	if s.style.roleSpace {
		// "data: {...} \n\n": the space before the blank line.
		n := len(s.buf)
		s.buf = append(s.buf[:n-2], " \n\n"...)
	}
}

// token writes the i-th token in a chunk of its own.
func (s *stream) token(i int) { s.tokens(i, i+1) }

// tokens writes tokens [from, to) in one chunk; finish_reason is on it
// when it carries the last token, unless the style sends a separate
// finish chunk.
func (s *stream) tokens(from, to int) {
	s.head()
	text := make([]byte, 0, 16*(to-from))
	for i := from; i < to; i++ {
		text = append(text, Token(i)...)
	}
	if s.chat {
		s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{"content":`...)
		s.buf = strconv.AppendQuote(s.buf, string(text))
		s.buf = append(s.buf, `},"logprobs":null,"finish_reason":`...)
	} else {
		s.buf = append(s.buf, `,"choices":[{"index":0,"text":`...)
		s.buf = strconv.AppendQuote(s.buf, string(text))
		s.buf = append(s.buf, `,"logprobs":null,"finish_reason":`...)
	}
	if to == s.final && !s.style.separateFinish {
		s.buf = strconv.AppendQuote(s.buf, s.reason)
	} else {
		s.buf = append(s.buf, "null"...)
	}
	s.buf = append(s.buf, "}]"...)
	s.end(to)
}

// finish writes the chunk that carries only finish_reason (SGLang).
func (s *stream) finish() {
	s.head()
	if s.chat {
		s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":`...)
	} else {
		s.buf = append(s.buf, `,"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":`...)
	}
	s.buf = strconv.AppendQuote(s.buf, s.reason)
	s.buf = append(s.buf, "}]"...)
	s.end(s.final)
}

func (s *stream) usageChunk() {
	s.head()
	s.buf = append(s.buf, `,"choices":[],`...)
	s.usageJSON(s.final)
	s.buf = append(s.buf, "}\n\n"...)
}

// errorEvent writes an error object as an event.
func (s *stream) errorEvent(body []byte) {
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, body...)
	s.buf = append(s.buf, "\n\n"...)
}
