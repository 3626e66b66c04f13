package config

import (
	"fmt"
	"slices"
	"strings"
)

// kindFields are the fields each workload kind takes, besides name and
// kind, in the order the error lists them.
var kindFields = map[string][]string{
	WorkloadDataset:      {"path", "format", "sample", "min_input_tokens", "max_input_tokens", "max_output_tokens", "max_tokens"},
	WorkloadSynthetic:    {"input_tokens", "output_tokens"},
	WorkloadSharedPrefix: {"groups", "prefix_tokens", "suffix_tokens", "output_tokens"},
	WorkloadMultiTurn:    {"turns", "think_time", "input_tokens", "output_tokens"},
}

// setFields are the entry's kind-specific fields that are set (non-zero),
// in declaration order, by their YAML names.
func (w WorkloadSpec) setFields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"path", w.Path != ""}, {"format", w.Format != ""}, {"sample", w.Sample != 0},
		{"min_input_tokens", w.MinInputTokens != 0}, {"max_input_tokens", w.MaxInputTokens != 0},
		{"max_output_tokens", w.MaxOutputTokens != 0}, {"max_tokens", w.MaxTokens != 0},
		{"input_tokens", !w.InputTokens.IsZero()}, {"output_tokens", !w.OutputTokens.IsZero()},
		{"groups", w.Groups != 0}, {"prefix_tokens", w.PrefixTokens != 0}, {"suffix_tokens", w.SuffixTokens != 0},
		{"turns", w.Turns != 0}, {"think_time", w.ThinkTime != 0},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// foreignField reports the first set field that the entry's kind does
// not use (nil for an unknown kind: Validate reports the kind). A field of
// another kind is a mistake — a value that would be silently ignored.
func (w WorkloadSpec) foreignField() error {
	takes, ok := kindFields[w.Kind]
	if !ok {
		return nil
	}
	for _, f := range w.setFields() {
		if !slices.Contains(takes, f) {
			return fmt.Errorf("%s: not used by kind %s, remove it (kind %s takes %s)", f, w.Kind, w.Kind, strings.Join(takes, ", "))
		}
	}
	return nil
}
