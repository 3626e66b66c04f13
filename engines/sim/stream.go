package sim

import (
	"net/http"
	"strconv"
)

// stream writes the SSE chunks of one response. Chunks are built by
// appending bytes rather than with encoding/json so that the simulator's
// own CPU cost per token stays far below the client's it shares the machine
// with.
type stream struct {
	w          http.ResponseWriter
	buf        []byte
	chat       bool
	model, id  string
	created    int64
	prompt     int
	final      int
	reason     string
	usage      bool
	continuous bool
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
	s.buf = append(s.buf, '}')
}

func (s *stream) role() {
	s.head()
	s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`...)
	if s.continuous {
		s.buf = append(s.buf, ',')
		s.usageJSON(0)
	}
	s.buf = append(s.buf, "}\n\n"...)
}

func (s *stream) token(i int) {
	s.head()
	if s.chat {
		s.buf = append(s.buf, `,"choices":[{"index":0,"delta":{"content":`...)
		s.buf = strconv.AppendQuote(s.buf, Token(i))
		s.buf = append(s.buf, `},"logprobs":null,"finish_reason":`...)
	} else {
		s.buf = append(s.buf, `,"choices":[{"index":0,"text":`...)
		s.buf = strconv.AppendQuote(s.buf, Token(i))
		s.buf = append(s.buf, `,"logprobs":null,"finish_reason":`...)
	}
	if i == s.final-1 {
		s.buf = strconv.AppendQuote(s.buf, s.reason)
	} else {
		s.buf = append(s.buf, "null"...)
	}
	s.buf = append(s.buf, "}]"...)
	if s.continuous {
		s.buf = append(s.buf, ',')
		s.usageJSON(i + 1)
	}
	s.buf = append(s.buf, "}\n\n"...)
}

func (s *stream) usageChunk() {
	s.head()
	s.buf = append(s.buf, `,"choices":[],`...)
	s.usageJSON(s.final)
	s.buf = append(s.buf, "}\n\n"...)
}
