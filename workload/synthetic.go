package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// Synthetic is a synthetic workload: request i's input and output
// lengths drawn from InputTokens and OutputTokens with the run's seed.
// Its text is a fixed-width salt (cell.Salter.NextFixed) and filler
// words, made to exactly that many tokens of the engine's tokenizer
// (POST tokenize; the count includes what the engine adds to a
// completions prompt, such as BOS; a chat template adds its tokens on
// top), else to 4 bytes a token.
type Synthetic struct{ Spec config.WorkloadSpec }

// Open draws every request's lengths and fits their texts. The lengths
// are the whole cell's, drawn with the run's seed (cell.Open.RunSeed): a
// shard takes those at its requests' run-wide indices, so that the
// shards of a run send together the lengths one process would.
func (s Synthetic) Open(ctx context.Context, o cell.Open) (cell.Requests, error) {
	rng := newRand(runSeed(o), s.Spec.Name)
	ins, outs := globalDraws(o, rng, s.Spec.InputTokens, s.Spec.OutputTokens)
	top := 0
	for _, n := range ins {
		top = max(top, n)
	}
	f := newFitter(o.Tokenizer, rng, top)
	texts := make([]string, o.Total)
	for i, n := range ins {
		t, err := f.fit(ctx, cell.FixedSaltTemplate, n)
		if err != nil {
			return nil, err
		}
		texts[i] = t[len(cell.FixedSaltTemplate):]
	}
	return &synthRequests{texts: texts, outs: outs, salts: o.Salts, f: f, num: o.Numbering}, nil
}

// runSeed is the seed every shard of the run shares (cell.Open.RunSeed),
// or Seed where the opener gave none.
func runSeed(o cell.Open) uint64 {
	if o.RunSeed == 0 {
		return o.Seed
	}
	return o.RunSeed
}

// globalDraws draws the whole cell's lengths, request by run-wide index,
// from a and b in turn, and returns those of this shard's o.Total
// requests, in their local order (position j is run-wide request
// o.Numbering.At(j)). Unsharded, they are the first o.Total draws.
func globalDraws(o cell.Open, rng *rand.Rand, a, b config.Dist) (as, bs []int) {
	as, bs = make([]int, o.Total), make([]int, o.Total)
	if o.Total == 0 {
		return as, bs
	}
	need := o.Numbering.At(o.Total-1) + 1 // the highest: the last request is its last measured one
	allA, allB := make([]int, need), make([]int, need)
	for g := range need {
		allA[g], allB[g] = draw(a, rng), draw(b, rng)
	}
	for j := range o.Total {
		g := o.Numbering.At(j)
		as[j], bs[j] = allA[g], allB[g]
	}
	return as, bs
}

// Describe gives the distributions.
func (s Synthetic) Describe() string {
	return fmt.Sprintf("synthetic: input %s, output %s tokens", s.Spec.InputTokens, s.Spec.OutputTokens)
}

// ClosedLoopOnly is false.
func (Synthetic) ClosedLoopOnly() bool { return false }

// MaxSeqTokens is both distributions' upper lengths plus a template's few.
func (s Synthetic) MaxSeqTokens() int {
	return s.Spec.InputTokens.Upper() + s.Spec.OutputTokens.Upper() + 32
}

type synthRequests struct {
	texts []string
	outs  []int
	salts *cell.Salter
	f     *fitter
	num   cell.Numbering
}

func (r *synthRequests) Request(_ context.Context, i int) loadgen.Request {
	i = r.num.Local(i) % len(r.texts)
	return loadgen.Request{Prompt: r.salts.NextFixed() + r.texts[i], MaxTokens: r.outs[i]}
}

func (r *synthRequests) Done(loadgen.Record) {}
func (r *synthRequests) InputTokens() string { return r.f.InputTokens() }
