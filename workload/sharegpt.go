package workload

import (
	"encoding/json"
	"fmt"
)

// ParseShareGPT reads a ShareGPT JSON file: a list of objects, each with
// "conversations": [{"from": "human"|"gpt"|..., "value": text}, ...].
// It is the file vLLM's and SGLang's serving benchmarks read:
// vllm-project/vllm vllm/benchmarks/datasets.py ShareGPTDataset (read at
// vLLM@f2e97dda, 2026 main) keeps entries with at least two turns and
// takes conversations[0].value as the prompt and conversations[1].value
// as the completion, whose token length is the output length;
// sgl-project/sglang sample_sharegpt_requests (bench_serving.py in
// v0.5-era releases, python/sglang/benchmark/datasets/sharegpt.py at
// SGL@09716a6e, 2026 main, where it was read) does the same, also
// accepting "conversation". Neither was read at the pinned versions.
// Here the prompt is the first "human" turn and the reference answer
// the "gpt" turn right after it, so a conversation opening with a system
// turn still counts; the output length is the answer's estimated tokens
// (4 bytes a token: no tokenizer is at hand when the file is read). A
// conversation without a human turn followed by a gpt turn is skipped
// (skipped counts them). A value of the wrong type stops the load,
// naming the file, the entry and the field.
func ParseShareGPT(file string, data []byte) (entries []Entry, skipped int, err error) {
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		var top json.RawMessage
		if json.Unmarshal(data, &top) == nil {
			return nil, 0, fmt.Errorf("%s: want a JSON list of conversations, got %s", file, jsonType(top))
		}
		return nil, 0, fmt.Errorf("%s: not JSON: %w", file, err)
	}
	for i, raw := range list {
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("%s: entry %d: field %q: %s", file, i, field, fmt.Sprintf(format, args...))
		}
		var obj map[string]json.RawMessage
		if jsonType(raw) != "object" || json.Unmarshal(raw, &obj) != nil {
			return nil, 0, fmt.Errorf("%s: entry %d: want an object with \"conversations\", got %s", file, i, jsonType(raw))
		}
		convRaw, ok := obj["conversations"]
		if !ok {
			return nil, 0, bad("conversations", "missing")
		}
		var turns []json.RawMessage
		if jsonType(convRaw) != "list" || json.Unmarshal(convRaw, &turns) != nil {
			return nil, 0, bad("conversations", "want a list, got %s", jsonType(convRaw))
		}
		type turn struct{ from, value string }
		ts := make([]turn, len(turns))
		for j, tr := range turns {
			var t map[string]json.RawMessage
			if jsonType(tr) != "object" || json.Unmarshal(tr, &t) != nil {
				return nil, 0, bad(fmt.Sprintf("conversations[%d]", j), "want an object with \"from\" and \"value\", got %s", jsonType(tr))
			}
			for _, k := range []string{"from", "value"} {
				v, ok := t[k]
				field := fmt.Sprintf("conversations[%d].%s", j, k)
				if !ok {
					return nil, 0, bad(field, "missing")
				}
				var s string
				if jsonType(v) != "string" || json.Unmarshal(v, &s) != nil {
					return nil, 0, bad(field, "want a string, got %s", jsonType(v))
				}
				if k == "from" {
					ts[j].from = s
				} else {
					ts[j].value = s
				}
			}
		}
		found := false
		for j := 0; j+1 < len(ts); j++ {
			if ts[j].from == "human" && ts[j+1].from == "gpt" && ts[j].value != "" {
				entries = append(entries, Entry{Prompt: ts[j].value, OutputTokens: estimateTokens(ts[j+1].value)})
				found = true
				break
			}
		}
		if !found {
			skipped++
		}
	}
	return entries, skipped, nil
}
