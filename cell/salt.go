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
