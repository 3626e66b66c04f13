package cell

import (
	"fmt"
	"sync/atomic"
)

// Salter numbers requests across a whole run so that no two requests of a
// run, repeated cells included, share a prompt prefix.
type Salter struct {
	seed uint64
	n    atomic.Uint64
}

// NewSalter returns a salter for a run seed.
func NewSalter(seed uint64) *Salter { return &Salter{seed: seed} }

// Next returns the next salt: a short line that starts every prompt, so
// automatic prefix caching (vLLM) and RadixAttention (SGLang) cannot serve
// a request's prefill from an earlier request.
func (s *Salter) Next() string {
	return fmt.Sprintf("[infbench %x-%d]\n", s.seed, s.n.Add(1))
}

// NextFixed returns the next salt in a fixed-width form, decimal digits
// only: "[infbench <20 digits>-<10 digits>]\n". Every such salt has the
// same length and, on tokenizers that split digit runs alike (Llama's
// groups of three), the same token count, so a text fitted to an exact
// token count with one salt keeps it with any other (see package
// workload). It shares Next's counter.
func (s *Salter) NextFixed() string {
	return fmt.Sprintf(FixedSaltFormat, s.seed, s.n.Add(1))
}

// FixedSaltFormat is NextFixed's format: the seed, then the counter.
const FixedSaltFormat = "[infbench %020d-%010d]\n"

// FixedSaltTemplate is a salt of NextFixed's shape, for fitting texts.
var FixedSaltTemplate = fmt.Sprintf(FixedSaltFormat, uint64(0), uint64(0))
