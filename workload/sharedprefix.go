package workload

import (
	"context"
	"fmt"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// SharedPrefix is a shared-prefix workload: request i belongs to group
// i mod Groups and sends the group's prefix (PrefixTokens: the group's
// salt, drawn from the run's Salter when the cell opens, then filler)
// followed by its own suffix (a request number, then filler, to
// PrefixTokens + SuffixTokens in all). The salt is per group and at the
// start of the prefix, so a prefix cache hits within a group, and misses
// across groups, cells and runs.
type SharedPrefix struct{ Spec config.WorkloadSpec }

// suffixLead starts every suffix: the request's own number, fixed width.
const suffixLead = "\n[request %010d]\n"

// Open draws the groups' salts and fits prefix and suffix texts.
func (s SharedPrefix) Open(ctx context.Context, o cell.Open) (cell.Requests, error) {
	w := s.Spec
	rng := newRand(runSeed(o), w.Name)
	_, outs := globalDraws(o, rng, config.Dist{Dist: config.DistFixed}, w.OutputTokens)
	f := newFitter(o.Tokenizer, rng, w.PrefixTokens+w.SuffixTokens)
	r := &prefixRequests{f: f, outs: outs, num: o.Numbering}
	for g := range w.Groups {
		// Every group's prefix is the same filler behind its own salt:
		// fitted once with the template salt, then given the group's.
		prefix, err := f.fit(ctx, cell.FixedSaltTemplate, w.PrefixTokens)
		if err != nil {
			return nil, err
		}
		prefix = o.Salts.Group(o.Cell, o.Rep, g) + prefix[len(cell.FixedSaltTemplate):]
		lead := prefix + fmt.Sprintf(suffixLead, 0)
		whole, err := f.fit(ctx, lead, w.PrefixTokens+w.SuffixTokens)
		if err != nil {
			return nil, err
		}
		r.prefixes = append(r.prefixes, prefix)
		r.suffixes = append(r.suffixes, whole[len(lead):])
	}
	return r, nil
}

// Describe gives the groups and lengths.
func (s SharedPrefix) Describe() string {
	w := s.Spec
	return fmt.Sprintf("shared_prefix: %d groups, prefix %d + suffix %d tokens, output %s tokens (salted per group)",
		w.Groups, w.PrefixTokens, w.SuffixTokens, w.OutputTokens)
}

// ClosedLoopOnly is false.
func (SharedPrefix) ClosedLoopOnly() bool { return false }

// MaxSeqTokens is prefix, suffix and output.
func (s SharedPrefix) MaxSeqTokens() int {
	return s.Spec.PrefixTokens + s.Spec.SuffixTokens + s.Spec.OutputTokens.Upper() + 32
}

type prefixRequests struct {
	f                  *fitter
	prefixes, suffixes []string
	outs               []int
	num                cell.Numbering
}

func (r *prefixRequests) Request(_ context.Context, i int) loadgen.Request {
	n := r.num.Index(i)
	g := n % len(r.prefixes)
	p := r.prefixes[g] + fmt.Sprintf(suffixLead, n) + r.suffixes[g]
	return loadgen.Request{Prompt: p, MaxTokens: r.outs[r.num.Local(i)%len(r.outs)]}
}

func (r *prefixRequests) Done(loadgen.Record) {}
func (r *prefixRequests) InputTokens() string { return r.f.InputTokens() }
