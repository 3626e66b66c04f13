package cell

import (
	"context"

	"github.com/infbench/infbench/loadgen"
)

// Source is a cell's workload: what its requests say. Package workload
// implements one per kind (prompt categories, datasets, synthetic
// lengths, shared prefixes, multi-turn sessions). A cell opens a fresh
// Requests for each run, so that -count repetitions and engines never
// share state.
type Source interface {
	// Open prepares the requests of one run of a cell before its clock
	// starts (fitting texts to the engine's tokenizer, drawing lengths).
	Open(ctx context.Context, o Open) (Requests, error)
	// Describe is the workload's configuration line: its kind and
	// parameters.
	Describe() string
	// ClosedLoopOnly is true for a workload whose requests depend on
	// earlier answers (multi-turn): an open loop cannot run it.
	ClosedLoopOnly() bool
	// MaxSeqTokens is the longest sequence (input and output tokens) a
	// request may make, for the engine's fit check.
	MaxSeqTokens() int
}

// Open is what a Source needs to prepare one run of a cell.
type Open struct {
	Salts *Salter
	// Tokenizer counts tokens with the engine's own tokenizer; nil where
	// the engine has none (lengths are then estimated).
	Tokenizer Tokenizer
	Total     int // requests of the run, warmup included
	// Concurrency is the closed loop's (0 for an open loop): a
	// multi-turn workload keeps this many sessions in progress.
	Concurrency int
	Seed        uint64 // the run's seed (a shard's own): samples and lengths drawn from it
	// RunSeed is the run's seed as every shard of it has it (Seed is a
	// shard's own): what must be one for the whole run, a dataset's
	// sample, a cell's lengths, is drawn from it.
	RunSeed uint64
	// Cell and Rep name the cell run (Cell.Name, Cell.Rep): with the
	// salter's seed they fix what all shards of the run share, such as a
	// shared-prefix group's salt (Salter.Group).
	Cell string
	Rep  int
	// Numbering gives this shard's requests their run-wide indices
	// (NumberingOf the cell and this process's shard of it; the zero
	// value, unsharded, is the identity).
	Numbering Numbering
}

// Tokenizer counts the tokens of a text as the engine does.
// *loadgen.Client is one (Client.Tokenize).
type Tokenizer interface {
	Tokenize(ctx context.Context, text string) (int, error)
	Tokenizer() string // the route, e.g. /tokenize ("" where none is configured)
}

// Requests builds a run's requests.
type Requests interface {
	// Request builds request i (warmup included). It may block until
	// the request can be built (a multi-turn session's next turn waits
	// for the previous answer and the think time); it is called before
	// the request's clock starts. ctx ends the wait.
	Request(ctx context.Context, i int) loadgen.Request
	// Done receives every finished record, from the goroutine that sent
	// it, before that goroutine builds its next request.
	Done(r loadgen.Record)
	// InputTokens says how input lengths were made ("tokenized by POST
	// /tokenize", "estimated (...)"), or "" for fixed texts.
	InputTokens() string
}
