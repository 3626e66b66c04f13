package cell

import (
	"fmt"
	"hash/fnv"
	"sync/atomic"
)

// Salter numbers requests across a whole run so that no two requests of a
// run, repeated cells included, share a prompt prefix. A shard's salter
// numbers its requests k·Count + Index + 1 (k = 0, 1, …), so that the
// shards of one run never share a salt either.
type Salter struct {
	seed  uint64
	shard Shard
	n     atomic.Uint64
}

// NewSalter returns a salter for a run seed.
func NewSalter(seed uint64) *Salter { return &Salter{seed: seed} }

// NewShardSalter returns the salter of one shard of a run.
func NewShardSalter(seed uint64, s Shard) *Salter { return &Salter{seed: seed, shard: s} }

// Next returns the next salt: a short line that starts every prompt, so
// automatic prefix caching (vLLM) and RadixAttention (SGLang) cannot serve
// a request's prefill from an earlier request.
func (s *Salter) Next() string {
	return fmt.Sprintf("[infbench %x-%d]\n", s.seed, s.next())
}

// next is the next salt number: 1, 2, …, or for a shard k·Count + Index + 1.
func (s *Salter) next() uint64 {
	k := s.n.Add(1)
	if s.shard.Sharded() {
		k = (k-1)*uint64(s.shard.Count) + uint64(s.shard.Index) + 1
	}
	return k
}

// NextFixed returns the next salt in a fixed-width form, decimal digits
// only: "[infbench <20 digits>-<10 digits>]\n". Every such salt has the
// same length and, on tokenizers that split digit runs alike (Llama's
// groups of three), the same token count, so a text fitted to an exact
// token count with one salt keeps it with any other (see package
// workload). It shares Next's counter.
func (s *Salter) NextFixed() string {
	return fmt.Sprintf(FixedSaltFormat, s.seed, s.next())
}

// FixedSaltFormat is NextFixed's format: the seed, then the counter.
const FixedSaltFormat = "[infbench %020d-%010d]\n"

// FixedSaltTemplate is a salt of NextFixed's shape, for fitting texts.
var FixedSaltTemplate = fmt.Sprintf(FixedSaltFormat, uint64(0), uint64(0))

// Group returns the salt of group g of a cell run (its name and
// repetition) in NextFixed's fixed-width form: the same on every shard
// of a run, since it depends on the salter's seed, cell, rep and g only
// (not on the shard or the counter), and different across cells,
// repetitions, groups and runs. Its first field is a hash of those in
// place of the seed, so it matches no request's salt (Next, NextFixed).
func (s *Salter) Group(cell string, rep, g int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%d\x00%d", s.seed, cell, rep, g)
	return fmt.Sprintf(FixedSaltFormat, h.Sum64(), uint64(g)+1)
}
