package cell

// Numbering maps one shard's requests of one cell to the run-wide
// indices a single process running the whole cell would give them, so
// that the shards of a cell together number their requests exactly
// 0 … Warmup+Requests−1, each once, and each request takes the text,
// entry or lengths of the single process's request of that index. The
// zero value, and a numbering of an unsharded cell, is the identity.
//
// A closed-loop shard's warmup and measured requests are its shares of
// the cell's (ShareOf: Split in proportion to its concurrency); its
// warmup requests take the run-wide warmup indices after the earlier
// shards' warmups, and its measured requests the measured indices
// (from Warmup on) after the earlier shards' measured ones. Numbering
// a shard's k-th request k·Count + Index instead, as infbench did
// before, numbered one process's requests only when the shares differed
// by at most one: concurrency 5 on 2 shards gives shares of 3 and 2, and
// of 10 requests 6 and 4, which that numbered 0, 2, …, 10 and 1, 3, 5, 7
// (no 9, and an 11th request, 10).
//
// An open-loop shard is asked for its arrivals by their index k in the
// whole schedule already (loadgen.OpenLoop's Shard and Shards): its j-th
// arrival is k = j·Count + Index, and Index is the identity on k.
type Numbering struct {
	shard  Shard
	closed bool
	// Closed loop: this shard's warmup requests, the warmups and
	// measured requests of the shards before it, and the cell's warmups.
	warm, warmBefore, reqBefore, warmAll int
}

// NumberingOf returns shard s's numbering of cell c.
func NumberingOf(c Cell, s Shard) Numbering {
	n := Numbering{shard: s}
	if !s.Sharded() || c.Rate > 0 {
		return n
	}
	n.closed = true
	// The shares ShareOf gives each shard, so that the numbering follows
	// the split whatever it is.
	n.warm, n.warmAll = ShareOf(c, s).Warmup, c.Warmup
	for i := range s.Index {
		before := ShareOf(c, Shard{Index: i, Count: s.Count})
		n.warmBefore += before.Warmup
		n.reqBefore += before.Requests
	}
	return n
}

// Index is the run-wide index of the request the loop asks for as i: a
// closed-loop shard's i is its own (0 for its first request), an
// open-loop shard's is its arrival's in the whole schedule already.
func (n Numbering) Index(i int) int {
	if !n.closed {
		return i
	}
	return n.At(i)
}

// At is the run-wide index of this shard's j-th request (from 0, its
// warmup first): for an open-loop shard its j-th arrival's, j·Count +
// Index.
func (n Numbering) At(j int) int {
	switch {
	case !n.shard.Sharded():
		return j
	case !n.closed:
		return j*n.shard.Count + n.shard.Index
	case j < n.warm:
		return n.warmBefore + j
	default:
		return n.warmAll + n.reqBefore + j - n.warm
	}
}

// Local is the position among this shard's requests (from 0, as At
// takes it) of the request the loop asks for as i: i for a closed loop
// or unsharded, an open-loop shard's arrival k's position k / Count.
func (n Numbering) Local(i int) int {
	if !n.shard.Sharded() || n.closed {
		return i
	}
	return i / n.shard.Count
}

// Session is the run-wide number of this shard's multi-turn session s
// (1-based, as the closed loop numbers them): (s−1)·Count + Index + 1, so
// that no two shards' sessions share a number however many sessions each
// starts (a shard may number more sessions than it sends requests: a
// session's number is taken when it starts, and sessions start
// concurrently). Unsharded, it is s.
func (n Numbering) Session(s int) int {
	if !n.closed {
		return s
	}
	return (s-1)*n.shard.Count + n.shard.Index + 1
}
