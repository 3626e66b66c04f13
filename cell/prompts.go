package cell

import (
	"context"
	"fmt"

	"github.com/infbench/infbench/loadgen"
)

// Prompts is the workload of a prompt category: its fixed texts, used in
// turn, each request's salted (Salter.Next) before the text, all with one
// output length. A Cell without a Source runs its Prompts and MaxTokens
// as this.
type Prompts struct {
	Texts     []string
	MaxTokens int
	// Category names the prompt category in Describe.
	Category string
}

// Open returns the requests; nothing to prepare.
func (p Prompts) Open(_ context.Context, o Open) (Requests, error) {
	if len(p.Texts) == 0 {
		return nil, fmt.Errorf("no prompts")
	}
	return promptRequests{p: p, salts: o.Salts, num: o.Numbering}, nil
}

// Describe names the category and its size.
func (p Prompts) Describe() string {
	return fmt.Sprintf("prompts (category %s of prompts.yaml): %d texts, max_tokens %d", p.Category, len(p.Texts), p.MaxTokens)
}

// ClosedLoopOnly is false: the requests depend on nothing.
func (p Prompts) ClosedLoopOnly() bool { return false }

// MaxSeqTokens is the longest text (estimated at 4 bytes a token, plus a
// chat template's few tokens and the salt) plus the output.
func (p Prompts) MaxSeqTokens() int {
	n := 0
	for _, t := range p.Texts {
		n = max(n, (len(t)+3)/4+32+p.MaxTokens)
	}
	return n
}

type promptRequests struct {
	p     Prompts
	salts *Salter
	num   Numbering
}

// Request i takes the text of its run-wide index, so that a sharded
// run's shards together send the texts one process would.
func (r promptRequests) Request(_ context.Context, i int) loadgen.Request {
	return loadgen.Request{Prompt: r.salts.Next() + r.p.Texts[r.num.Index(i)%len(r.p.Texts)], MaxTokens: r.p.MaxTokens}
}

func (promptRequests) Done(loadgen.Record) {}
func (promptRequests) InputTokens() string { return "" }
