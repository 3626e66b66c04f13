package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Chunk is what the measurement needs from one streamed event of
// /v1/chat/completions or /v1/completions. Nothing else is decoded.
type Chunk struct {
	Done bool // the "[DONE]" sentinel

	// ContentBytes is the decoded length in bytes of the first choice's
	// generated text: delta.content, delta.reasoning_content or
	// delta.reasoning (chat), or text (completions). An event is
	// content-bearing when it is > 0.
	ContentBytes int
	Finished     bool // the first choice has a non-null finish_reason

	HasUsage         bool // a non-null usage object
	PromptTokens     int
	CompletionTokens int

	// ErrorMessage is set when the event reports an error in the stream
	// ({"error": {...}} or {"object": "error", "message": ...}).
	ErrorMessage string
	IsError      bool
}

// ErrMalformedEvent wraps every error from ParseChunk.
var ErrMalformedEvent = errors.New("malformed event")

var doneSentinel = []byte("[DONE]")

// ParseChunk extracts a Chunk from an event's data.
//
// It is a purpose-built scanner rather than encoding/json because it runs
// once per streamed token on the client, where the budget is a few
// microseconds per event at 50,000 events/s on a shared CPU: it decodes only
// the dozen fields above, skips every other value without allocating, and
// validates the JSON grammar as it goes (FuzzParseChunk checks it against
// encoding/json). Values of an unexpected type (a string where an object
// should be) are skipped, as encoding/json into interface{} would let them
// through; the fields read are those listed on Chunk.
func ParseChunk(data []byte, c *Chunk) error {
	*c = Chunk{}
	d := bytes.Trim(data, " \t\r\n") // JSON whitespace only
	if bytes.Equal(d, doneSentinel) {
		c.Done = true
		return nil
	}
	s := scanner{b: d}
	if err := s.topObject(c); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedEvent, err)
	}
	s.ws()
	if s.i != len(s.b) {
		return fmt.Errorf("%w: trailing data at offset %d", ErrMalformedEvent, s.i)
	}
	return nil
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, args...)...)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.errf("want %q", c)
	}
	s.i++
	return nil
}

// object calls fn for each key of an object; fn must consume the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, _, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errf("want ',' or '}' in object")
		}
	}
}

func (s *scanner) topObject(c *Chunk) error {
	var object, message []byte
	var hasMessage bool
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "choices":
			if s.peek() != '[' {
				return s.skip()
			}
			return s.choices(c)
		case "usage":
			if s.peek() != '{' {
				return s.skip()
			}
			c.HasUsage = true
			c.PromptTokens, c.CompletionTokens = 0, 0
			return s.object(func(k []byte) error {
				switch string(k) {
				case "prompt_tokens":
					return s.intInto(&c.PromptTokens)
				case "completion_tokens":
					return s.intInto(&c.CompletionTokens)
				}
				return s.skip()
			})
		case "error":
			// An error object, or a non-empty error string; null, false
			// and "" are no error.
			c.IsError, c.ErrorMessage = false, ""
			switch s.peek() {
			case '{':
				c.IsError = true
				return s.object(func(k []byte) error {
					if string(k) == "message" && s.peek() == '"' {
						raw, _, err := s.str()
						c.ErrorMessage = unquote(raw)
						return err
					}
					return s.skip()
				})
			case '"':
				raw, n, err := s.str()
				c.IsError, c.ErrorMessage = n > 0, unquote(raw)
				return err
			}
			return s.skip()
		case "object":
			if s.peek() == '"' {
				raw, _, err := s.str()
				object = raw
				return err
			}
			object = nil
			return s.skip()
		case "message":
			if s.peek() == '"' {
				raw, _, err := s.str()
				message, hasMessage = raw, true
				return err
			}
			message, hasMessage = nil, false
			return s.skip()
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	if string(object) == "error" {
		c.IsError = true
		if hasMessage {
			c.ErrorMessage = unquote(message)
		}
	}
	return nil
}

// array calls fn for each element of an array (n counts from 0); fn must
// consume the element.
func (s *scanner) array(fn func(n int) error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for n := 0; ; n++ {
		if err := fn(n); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.errf("want ',' or ']' in array")
		}
	}
}

// choices reads the first choice of the array into c and skips the rest.
func (s *scanner) choices(c *Chunk) error {
	return s.array(func(n int) error {
		if n == 0 && s.peek() == '{' {
			return s.choice(c)
		}
		return s.skip()
	})
}

func (s *scanner) choice(c *Chunk) error {
	var content, reasoning, reasoning2, text int
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "delta":
			content, reasoning, reasoning2 = 0, 0, 0
			if s.peek() != '{' {
				return s.skip()
			}
			return s.object(func(k []byte) error {
				switch string(k) {
				case "content":
					return s.strLenInto(&content)
				case "reasoning_content":
					return s.strLenInto(&reasoning)
				case "reasoning":
					return s.strLenInto(&reasoning2)
				}
				return s.skip()
			})
		case "text":
			return s.strLenInto(&text)
		case "finish_reason":
			if s.peek() == 'n' {
				c.Finished = false
				return s.skip()
			}
			c.Finished = true
			return s.skip()
		}
		return s.skip()
	})
	c.ContentBytes = content + reasoning + reasoning2 + text
	return err
}

// strLenInto stores the decoded length of a string value, or 0 for any
// other value.
func (s *scanner) strLenInto(n *int) error {
	if s.peek() != '"' {
		*n = 0
		return s.skip()
	}
	_, l, err := s.str()
	*n = l
	return err
}

// intInto reads a token count: a non-negative integer (null reads as 0).
// Anything else — a negative, a fraction, a number too large for an int —
// is a malformed event, not a count to trust.
func (s *scanner) intInto(n *int) error {
	switch c := s.peek(); {
	case c == 'n': // null
		*n = 0
		return s.skip()
	case c != '-' && (c < '0' || c > '9'):
		return s.errf("token count is not a number")
	}
	start := s.i
	if err := s.number(); err != nil {
		return err
	}
	raw := s.b[start:s.i]
	v, err := strconv.Atoi(string(raw))
	if err != nil { // 5.0, 1e2: integral values written as floats
		f, ferr := strconv.ParseFloat(string(raw), 64)
		if ferr != nil || f != math.Trunc(f) || f > 1<<62 {
			return s.errf("token count %s is not a non-negative integer", raw)
		}
		v = int(f)
	}
	if v < 0 {
		return s.errf("token count %s is not a non-negative integer", raw)
	}
	*n = v
	return nil
}

// str consumes a string and returns its raw bytes (between the quotes) and
// its decoded length in bytes.
func (s *scanner) str() (raw []byte, n int, err error) {
	if s.peek() != '"' {
		return nil, 0, s.errf("want string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, n, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, 0, s.errf("unterminated escape")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
				n++
			case 'u':
				r, size, ok := s.hexRune(s.i)
				if !ok {
					return nil, 0, s.errf("bad \\u escape")
				}
				s.i += size
				n += utf8.RuneLen(r)
			default:
				return nil, 0, s.errf("bad escape")
			}
		case c < 0x20:
			return nil, 0, s.errf("control character in string")
		case c < utf8.RuneSelf:
			s.i++
			n++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			s.i += size
			if r == utf8.RuneError && size == 1 {
				n += 3 // encoding/json replaces invalid bytes with U+FFFD
			} else {
				n += size
			}
		}
	}
	return nil, 0, s.errf("unterminated string")
}

// hexRune decodes \uXXXX at i (and a following low surrogate), returning
// the rune and the bytes consumed, as encoding/json does.
func (s *scanner) hexRune(i int) (rune, int, bool) {
	r1, ok := hex4(s.b, i+2)
	if !ok {
		return 0, 0, false
	}
	if r1 >= 0xD800 && r1 < 0xDC00 { // high surrogate: try to pair it
		if i+12 <= len(s.b) && s.b[i+6] == '\\' && s.b[i+7] == 'u' {
			if r2, ok := hex4(s.b, i+8); ok && r2 >= 0xDC00 && r2 < 0xE000 {
				return (r1-0xD800)<<10 + (r2 - 0xDC00) + 0x10000, 12, true
			}
		}
		return utf8.RuneError, 6, true
	}
	if r1 >= 0xDC00 && r1 < 0xE000 {
		return utf8.RuneError, 6, true
	}
	return r1, 6, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *scanner) number() error {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	intStart := s.i
	if digits() == 0 {
		return s.errf("bad number")
	}
	if s.b[intStart] == '0' && s.i-intStart > 1 {
		return s.errf("bad number: leading zero")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.errf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.errf("bad number")
		}
	}
	if s.i == start {
		return s.errf("bad number")
	}
	return nil
}

// skip consumes any JSON value, checking its grammar.
func (s *scanner) skip() error {
	return s.skipDepth(0)
}

const maxDepth = 1000 // as encoding/json's limit, against stack exhaustion

func (s *scanner) skipDepth(depth int) error {
	if depth > maxDepth {
		return s.errf("nesting deeper than %d", maxDepth)
	}
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skipDepth(depth + 1) })
	case c == '[':
		return s.array(func(int) error { return s.skipDepth(depth + 1) })
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 0 && s.i >= len(s.b):
		return s.errf("unexpected end")
	}
	return s.errf("unexpected character %q", s.b[s.i])
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.errf("bad literal")
	}
	s.i += len(lit)
	return nil
}

// unquote decodes a raw JSON string body; only used on the rare error path.
func unquote(raw []byte) string {
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var v string
	if err := json.Unmarshal(q, &v); err == nil {
		return v
	}
	return string(raw)
}
