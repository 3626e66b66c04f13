package workload

import (
	"bytes"
	"encoding/json"
)

// Entry is one prompt of a dataset and its reference output length in
// tokens (0: none given).
type Entry struct {
	Prompt       string
	OutputTokens int
	Where        string // where it is in its file, for errors: "x.jsonl:7" ("" where unknown)
}

// estimateTokens is a text's length in tokens at bytesPerToken.
func estimateTokens(s string) int { return max(1, (len(s)+bytesPerToken-1)/bytesPerToken) }

// jsonType names the JSON type of a raw value, for error messages.
func jsonType(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "list"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
