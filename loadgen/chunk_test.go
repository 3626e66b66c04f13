package loadgen

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseChunk(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want Chunk
	}{
		{"done", "[DONE]", Chunk{Done: true}},
		{"done with space", " [DONE] ", Chunk{Done: true}},
		{"role only", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, Chunk{}},
		{"role without content (TensorRT-LLM)", `{"choices":[{"index":0,"delta":{"role":"assistant"}}]}`, Chunk{}},
		{"chat content", `{"id":"x","choices":[{"index":0,"delta":{"content":" sky"},"logprobs":null,"finish_reason":null}]}`, Chunk{ContentBytes: 4}},
		{"escapes count decoded", `{"choices":[{"delta":{"content":"a\nb\u00e9\ud83d\ude00"}}]}`, Chunk{ContentBytes: 1 + 1 + 1 + 2 + 4}},
		{"reasoning", `{"choices":[{"delta":{"content":null,"reasoning_content":"think"}}]}`, Chunk{ContentBytes: 5}},
		{"completions text", `{"choices":[{"index":0,"text":"Hello","finish_reason":"length"}]}`, Chunk{ContentBytes: 5, Finished: true}},
		{"usage only", `{"choices":[],"usage":{"prompt_tokens":12,"total_tokens":17,"completion_tokens":5}}`, Chunk{HasUsage: true, PromptTokens: 12, CompletionTokens: 5}},
		{"usage null", `{"choices":[{"text":"a"}],"usage":null}`, Chunk{ContentBytes: 1}},
		{"second choice ignored", `{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"bbb"}}]}`, Chunk{ContentBytes: 1}},
		{"error object", `{"error":{"message":"out of memory","code":500}}`, Chunk{IsError: true, ErrorMessage: "out of memory"}},
		{"error top-level (vLLM, SGLang)", `{"object":"error","message":"bad \"x\"","type":"BadRequestError"}`, Chunk{IsError: true, ErrorMessage: `bad "x"`}},
		{"unexpected types skipped", `{"choices":"x","usage":5,"error":null}`, Chunk{}},
		{"false and empty errors are none", `{"error":false,"choices":[{"text":"a"}]}`, Chunk{ContentBytes: 1}},
		{"empty error string", `{"error":""}`, Chunk{}},
		{"error string", `{"error":"boom"}`, Chunk{IsError: true, ErrorMessage: "boom"}},
		{"trailing whitespace", "{\"choices\":[]} \r\n", Chunk{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunk
			require.NoError(t, ParseChunk([]byte(tc.in), &c))
			assert.Equal(t, tc.want, c)
		})
	}
}

func TestParseChunkMalformed(t *testing.T) {
	for _, in := range []string{`{"usage":{"completion_tokens":-7}}`, `{"usage":{"prompt_tokens":1.5}}`, `{"usage":{"completion_tokens":1e300}}`, `{"usage":{"completion_tokens":"5"}}`, ``, `{`, `{"choices":[}`, `{"a":1,}`, `{"a":01}`, `{"a":"\x"}`, `{"a":tru}`, `{} {}`, `data: {}`, "{\"a\":\"\x01\"}", `[1]`} {
		var c Chunk
		err := ParseChunk([]byte(in), &c)
		assert.ErrorIs(t, err, ErrMalformedEvent, "input %q", in)
	}
}

func TestParseChunkAllocs(t *testing.T) {
	in := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" blue"},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":16,"completion_tokens":3,"total_tokens":19}}`)
	var c Chunk
	allocs := testing.AllocsPerRun(100, func() { _ = ParseChunk(in, &c) })
	assert.Zero(t, allocs, "ParseChunk runs once per token and must not allocate")
}

// oracle computes the Chunk from encoding/json's view of a valid document,
// following the same rules as ParseChunk.
func oracle(data []byte) (Chunk, bool) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return Chunk{}, false
	}
	if s, ok := v.(string); ok && s == "[DONE]" {
		return Chunk{}, false // a JSON string, not the sentinel; skip
	}
	top, ok := v.(map[string]any)
	if !ok {
		return Chunk{}, false
	}
	var c Chunk
	strLen := func(x any) int {
		s, _ := x.(string)
		return len(s)
	}
	if arr, ok := top["choices"].([]any); ok && len(arr) > 0 {
		if ch, ok := arr[0].(map[string]any); ok {
			if d, ok := ch["delta"].(map[string]any); ok {
				c.ContentBytes += strLen(d["content"]) + strLen(d["reasoning_content"]) + strLen(d["reasoning"])
			}
			c.ContentBytes += strLen(ch["text"])
			if fr, ok := ch["finish_reason"]; ok && fr != nil {
				c.Finished = true
			}
		}
	}
	if u, ok := top["usage"].(map[string]any); ok {
		c.HasUsage = true
		for k, dst := range map[string]*int{"prompt_tokens": &c.PromptTokens, "completion_tokens": &c.CompletionTokens} {
			switch x := u[k].(type) {
			case nil:
			case float64:
				// Token counts must be non-negative integers that fit an int.
				if x < 0 || x != math.Trunc(x) || x > 1<<62 {
					return Chunk{}, false
				}
				*dst = int(x)
			default:
				return Chunk{}, false // a count that is not a number
			}
		}
	}
	switch e := top["error"].(type) {
	case map[string]any:
		c.IsError = true
		c.ErrorMessage, _ = e["message"].(string)
	case string:
		c.IsError, c.ErrorMessage = e != "", e
	}
	if o, _ := top["object"].(string); o == "error" {
		c.IsError = true
		if m, ok := top["message"].(string); ok {
			c.ErrorMessage = m
		}
	}
	return c, true
}

// FuzzParseChunk checks ParseChunk against encoding/json: on every valid
// JSON object it must agree with the oracle; on invalid JSON it must fail.
func FuzzParseChunk(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
		`{"choices":[{"delta":{"content":"a\u00e9\ud83d\ude00"},"finish_reason":"stop"}]}`,
		`{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}`,
		`{"choices":[{"text":" x","finish_reason":null}],"usage":null}`,
		`{"object":"error","message":"m"}`, `{"error":{"message":"e"}}`, `[DONE]`, `{"a":[1,2.5e3,-0.1,true,false,null,{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var got Chunk
		err := ParseChunk(in, &got)
		valid := json.Valid(in)
		if string(trimSpace(in)) == "[DONE]" {
			return
		}
		if !valid {
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", in)
			}
			return
		}
		want, ok := oracle(in)
		if !ok {
			return // valid JSON but not a chunk we accept: ParseChunk may reject it
		}
		if err != nil && strings.Contains(err.Error(), "token count") {
			return // a duplicate key with a bad count: encoding/json keeps the last
		}
		if err != nil {
			t.Fatalf("rejected valid JSON %q: %v", in, err)
		}
		if got != want {
			t.Fatalf("input %q: got %+v, encoding/json says %+v", in, got, want)
		}
	})
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
