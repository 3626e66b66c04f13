package workload

import (
	"context"
	"fmt"

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

// Open draws every request's lengths and fits their texts.
func (s Synthetic) Open(ctx context.Context, o cell.Open) (cell.Requests, error) {
	rng := newRand(o.Seed, s.Spec.Name)
	ins, outs := make([]int, o.Total), make([]int, o.Total)
	top := 0
	for i := range ins {
		ins[i], outs[i] = draw(s.Spec.InputTokens, rng), draw(s.Spec.OutputTokens, rng)
		top = max(top, ins[i])
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
	return &synthRequests{texts: texts, outs: outs, salts: o.Salts, f: f}, nil
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
}

func (r *synthRequests) Request(_ context.Context, i int) loadgen.Request {
	i %= len(r.texts)
	return loadgen.Request{Prompt: r.salts.NextFixed() + r.texts[i], MaxTokens: r.outs[i]}
}

func (r *synthRequests) Done(loadgen.Record) {}
func (r *synthRequests) InputTokens() string { return r.f.InputTokens() }
