package workload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
)

func TestShareGPTSample(t *testing.T) {
	data, err := os.ReadFile("../testdata/workloads/sharegpt-sample.json")
	require.NoError(t, err)
	es, skipped, err := ParseShareGPT("sharegpt-sample.json", data)
	require.NoError(t, err)
	assert.Len(t, es, 24)
	assert.Equal(t, 1, skipped, "the conversation without a gpt turn")
	assert.Equal(t, "Explain how a bicycle gear works to a curious twelve-year-old, in plain words and with one everyday example.", es[0].Prompt)
	// The output length is the following gpt turn's, estimated.
	assert.Equal(t, estimateTokens("Here is a short explanation of how a bicycle gear works. It comes down to a few simple ideas that fit together. It comes down to a few simple ideas that fit together. That is the whole trick."), es[0].OutputTokens)
	// Entry 5 opens with a system turn: the first human turn is taken.
	assert.Contains(t, es[5].Prompt, "how tides follow the moon")
}

func TestJSONLSample(t *testing.T) {
	data, err := os.ReadFile("../testdata/workloads/sample.jsonl")
	require.NoError(t, err)
	es, err := ParseJSONL("sample.jsonl", data)
	require.NoError(t, err)
	require.Len(t, es, 24)
	assert.Equal(t, Entry{Prompt: "Write a short note for a class notice board about why bread dough rises.", OutputTokens: 40, Where: "sample.jsonl:2"}, es[1])
}

// Every malformed case stops the load with the file, the entry (index or
// line) and the field.
func TestMalformedDatasets(t *testing.T) {
	for file, want := range map[string]string{
		"prompt-number.jsonl":                `testdata/bad/prompt-number.jsonl:3: field "prompt": want a string, got number`,
		"prompt-missing.jsonl":               `testdata/bad/prompt-missing.jsonl:2: field "prompt": missing`,
		"output-string.jsonl":                `testdata/bad/output-string.jsonl:1: field "output_tokens": want an integer, got string`,
		"output-fraction.jsonl":              `testdata/bad/output-fraction.jsonl:1: field "output_tokens": want a positive integer, got 2.5`,
		"line-list.jsonl":                    `testdata/bad/line-list.jsonl:2: want an object with "prompt", got list`,
		"line-broken.jsonl":                  `testdata/bad/line-broken.jsonl:2: not JSON: unexpected end of JSON input`,
		"sharegpt-object.json":               `testdata/bad/sharegpt-object.json: want a JSON list of conversations, got object`,
		"sharegpt-conversations-string.json": `testdata/bad/sharegpt-conversations-string.json: entry 1: field "conversations": want a list, got string`,
		"sharegpt-value-number.json":         `testdata/bad/sharegpt-value-number.json: entry 0: field "conversations[0].value": want a string, got number`,
		"sharegpt-from-missing.json":         `testdata/bad/sharegpt-from-missing.json: entry 0: field "conversations[0].from": missing`,
		"sharegpt-no-conversations.json":     `testdata/bad/sharegpt-no-conversations.json: entry 0: field "conversations": missing`,
		"sharegpt-entry-string.json":         `testdata/bad/sharegpt-entry-string.json: entry 0: want an object with "conversations", got string`,
	} {
		t.Run(file, func(t *testing.T) {
			format := config.FormatJSONL
			if filepath.Ext(file) == ".json" {
				format = config.FormatShareGPT
			}
			_, err := New(config.WorkloadSpec{Name: "bad", Kind: config.WorkloadDataset, Path: "bad/" + file, Format: format, MaxTokens: 8}, "testdata")
			require.Error(t, err)
			assert.Equal(t, "workload bad: "+want, err.Error())
		})
	}
}

// An entry without output_tokens, in a workload without max_tokens, is
// named by its line.
func TestDatasetMissingOutputTokens(t *testing.T) {
	_, err := New(config.WorkloadSpec{Name: "bad", Kind: config.WorkloadDataset, Path: "bad/output-missing.jsonl", Format: config.FormatJSONL}, "testdata")
	require.Error(t, err)
	assert.Equal(t, `workload bad: testdata/bad/output-missing.jsonl:4: field "output_tokens": missing and the workload sets no max_tokens (give the entry output_tokens, or set max_tokens on the workload)`, err.Error())
}

func TestDatasetFiltersAndSample(t *testing.T) {
	w := config.WorkloadSpec{Name: "chat", Kind: config.WorkloadDataset, Path: "workloads/sharegpt-sample.json",
		Format: config.FormatShareGPT, Sample: 5, MaxOutputTokens: 60}
	src, err := New(w, "../testdata")
	require.NoError(t, err)
	d := src.(*Dataset)
	for _, e := range d.Entries {
		assert.LessOrEqual(t, e.OutputTokens, 60)
	}
	assert.Less(t, len(d.Entries), 24, "the filter removed the longer answers")
	a, b := d.Sampled(7), d.Sampled(7)
	assert.Len(t, a, 5)
	assert.Equal(t, a, b, "the same seed draws the same sample, for every engine")
	assert.NotEqual(t, a, d.Sampled(8))
	assert.Contains(t, d.Describe(), "sha256 ")
	assert.Contains(t, d.Describe(), "sample 5")

	w.MaxOutputTokens = 1
	_, err = New(w, "../testdata")
	assert.ErrorContains(t, err, "no entry of 25 passes the length filters")
}

// Every dataset request is salted at its start and asks for its entry's
// output length; the sample is the one Sampled draws.
func TestDatasetRequests(t *testing.T) {
	src, err := New(config.WorkloadSpec{Name: "notes", Kind: config.WorkloadDataset, Path: "workloads/sample.jsonl",
		Format: config.FormatJSONL, Sample: 4}, "../testdata")
	require.NoError(t, err)
	reqs, err := src.Open(context.Background(), cell.Open{Salts: cell.NewSalter(0xab), Total: 8, Seed: 3})
	require.NoError(t, err)
	want := src.(*Dataset).Sampled(3)
	seen := map[string]bool{}
	for i := range 8 {
		r := reqs.Request(context.Background(), i)
		salt := fmt.Sprintf("[infbench ab-%d]\n", i+1)
		require.True(t, strings.HasPrefix(r.Prompt, salt), r.Prompt)
		assert.Equal(t, want[i%4].Prompt, r.Prompt[len(salt):])
		assert.Equal(t, want[i%4].OutputTokens, r.MaxTokens)
		seen[r.Prompt] = true
	}
	assert.Len(t, seen, 8, "no two requests alike")
}
