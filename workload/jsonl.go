package workload

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseJSONL reads a JSONL dataset: one object per line with "prompt" (a
// non-empty string) and optionally "output_tokens" (a positive integer,
// the reference output length); other fields are ignored, blank lines
// skipped. A line that is not such an object stops the load, naming the
// file, the line and the field.
func ParseJSONL(file string, data []byte) ([]Entry, error) {
	var out []Entry
	for n, line := range bytes.Split(data, []byte("\n")) {
		no := n + 1
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			var v json.RawMessage
			if json.Unmarshal(line, &v) == nil {
				return nil, fmt.Errorf("%s:%d: want an object with \"prompt\", got %s", file, no, jsonType(v))
			}
			return nil, fmt.Errorf("%s:%d: not JSON: %w", file, no, err)
		}
		e := Entry{Where: fmt.Sprintf("%s:%d", file, no)}
		p, ok := obj["prompt"]
		if !ok {
			return nil, fmt.Errorf("%s:%d: field \"prompt\": missing", file, no)
		}
		if jsonType(p) != "string" || json.Unmarshal(p, &e.Prompt) != nil {
			return nil, fmt.Errorf("%s:%d: field \"prompt\": want a string, got %s", file, no, jsonType(p))
		}
		if e.Prompt == "" {
			return nil, fmt.Errorf("%s:%d: field \"prompt\": empty", file, no)
		}
		if o, ok := obj["output_tokens"]; ok {
			var f float64
			if jsonType(o) != "number" || json.Unmarshal(o, &f) != nil {
				return nil, fmt.Errorf("%s:%d: field \"output_tokens\": want an integer, got %s", file, no, jsonType(o))
			}
			if f != float64(int(f)) || f < 1 {
				return nil, fmt.Errorf("%s:%d: field \"output_tokens\": want a positive integer, got %s", file, no, bytes.TrimSpace(o))
			}
			e.OutputTokens = int(f)
		}
		out = append(out, e)
	}
	return out, nil
}
