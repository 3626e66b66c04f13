package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// Dataset is a dataset workload: the file's entries within the length
// filters, Sample of them (all when 0) drawn with the run's seed, each
// request salted at its start (cell.Salter.Next) and asking for the
// entry's output length, or MaxTokens when set. Lengths for the filters
// are estimated at 4 bytes a token.
type Dataset struct {
	Spec    config.WorkloadSpec
	File    string  // the path read
	SHA256  string  // of the file
	Entries []Entry // after the filters
	Skipped int     // conversations without a human turn followed by a gpt turn
	Read    int     // entries in the file
}

func newDataset(w config.WorkloadSpec, dir string) (*Dataset, error) {
	path := w.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workload %s: reading its dataset: %w (path: is relative to engines.yaml's folder)", w.Name, err)
	}
	var all []Entry
	skipped := 0
	if w.Format == config.FormatShareGPT {
		all, skipped, err = ParseShareGPT(path, data)
	} else {
		all, err = ParseJSONL(path, data)
	}
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", w.Name, err)
	}
	sum := sha256.Sum256(data)
	d := &Dataset{Spec: w, File: path, SHA256: hex.EncodeToString(sum[:]), Skipped: skipped, Read: len(all) + skipped}
	for _, e := range all {
		in := estimateTokens(e.Prompt)
		switch {
		case in < w.MinInputTokens, w.MaxInputTokens > 0 && in > w.MaxInputTokens,
			w.MaxOutputTokens > 0 && e.OutputTokens > w.MaxOutputTokens:
			continue
		}
		if w.MaxTokens == 0 && e.OutputTokens == 0 {
			where := e.Where
			if where == "" {
				where = path
			}
			return nil, fmt.Errorf("workload %s: %s: field \"output_tokens\": missing and the workload sets no max_tokens (give the entry output_tokens, or set max_tokens on the workload)", w.Name, where)
		}
		d.Entries = append(d.Entries, e)
	}
	if len(d.Entries) == 0 {
		return nil, fmt.Errorf("workload %s: %s: no entry of %d passes the length filters (min_input_tokens %d, max_input_tokens %d, max_output_tokens %d)",
			w.Name, path, d.Read, w.MinInputTokens, w.MaxInputTokens, w.MaxOutputTokens)
	}
	return d, nil
}

// Sampled returns the entries a run sends, in order: Sample of them drawn
// without replacement with the run's seed (the same for every engine),
// or all of them.
func (d *Dataset) Sampled(seed uint64) []Entry {
	es := d.Entries
	if d.Spec.Sample == 0 || d.Spec.Sample >= len(es) {
		return es
	}
	rng := newRand(seed, d.Spec.Name)
	idx := rng.Perm(len(es))[:d.Spec.Sample]
	out := make([]Entry, len(idx))
	for i, j := range idx {
		out[i] = es[j]
	}
	return out
}

func (d *Dataset) outputTokens(e Entry) int {
	if d.Spec.MaxTokens > 0 {
		return d.Spec.MaxTokens
	}
	return e.OutputTokens
}

// Open returns the requests: the sampled entries in turn, by run-wide
// request index (cell.Numbering.Index), the sample drawn with the run's
// seed (cell.Open.RunSeed), so that the shards of a run send together
// the entries one process would, not each the first of them.
func (d *Dataset) Open(_ context.Context, o cell.Open) (cell.Requests, error) {
	es := d.Sampled(runSeed(o))
	return &datasetRequests{d: d, es: es, salts: o.Salts, num: o.Numbering}, nil
}

// Describe gives the file, its checksum and the sample.
func (d *Dataset) Describe() string {
	n := fmt.Sprintf("%d", d.Spec.Sample)
	if d.Spec.Sample == 0 || d.Spec.Sample >= len(d.Entries) {
		n = fmt.Sprintf("all %d", len(d.Entries))
	}
	out := "from the dataset"
	if d.Spec.MaxTokens > 0 {
		out = fmt.Sprintf("max_tokens %d", d.Spec.MaxTokens)
	}
	bound := func(x int) string {
		if x == 0 {
			return "any"
		}
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("dataset %s (%s, sha256 %s): %d entries, %d skipped, %d within input %d..%s output ≤ %s tokens (estimated); sample %s; output %s",
		d.Spec.Path, d.Spec.Format, d.SHA256[:16], d.Read, d.Skipped, len(d.Entries),
		d.Spec.MinInputTokens, bound(d.Spec.MaxInputTokens), bound(d.Spec.MaxOutputTokens), n, out)
}

// ClosedLoopOnly is false.
func (d *Dataset) ClosedLoopOnly() bool { return false }

// MaxSeqTokens is the longest entry's estimate plus its output and a
// chat template's few tokens.
func (d *Dataset) MaxSeqTokens() int {
	n := 0
	for _, e := range d.Entries {
		n = max(n, estimateTokens(e.Prompt)+32+d.outputTokens(e))
	}
	return n
}

type datasetRequests struct {
	d     *Dataset
	es    []Entry
	salts *cell.Salter
	num   cell.Numbering
}

func (r *datasetRequests) Request(_ context.Context, i int) loadgen.Request {
	e := r.es[r.num.Index(i)%len(r.es)]
	return loadgen.Request{Prompt: r.salts.Next() + e.Prompt, MaxTokens: r.d.outputTokens(e)}
}

func (r *datasetRequests) Done(loadgen.Record) {}
func (r *datasetRequests) InputTokens() string { return "" }
