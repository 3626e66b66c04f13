// Package shard lets several load-generator processes run one benchmark
// together: shard 0 serves a small barrier over HTTP (Serve), and every
// shard, shard 0 included, joins it once (Join) and waits there before
// each cell (Member.Barrier), so that the shards start every cell
// together however long the previous one took on each. Before every
// barrier a shard measures its clock against the coordinator's,
// NTP-style (Member.Clock); when the last shard arrives the coordinator
// sets a common start StartLead ahead on its own clock, which each shard
// converts to its clock and sleeps until (Start), so that the shards
// start at one instant whatever the delays of the answers, and a merge
// can put every shard's records on one timeline.
//
// What each shard runs of a cell is package cell's rule (cell.Shard,
// cell.ShareOf): a closed loop's share of the concurrency, or an open
// loop's arrivals k mod n = i of the one schedule every shard computes
// for the whole cell (the single process's: same seed, rate, warmup and
// requests), so that the shards' arrivals together are one process's
// for any burstiness, and the warmup ends at one instant for all. That
// replaced n independent arrival processes of R/n, whose measured
// windows began at each shard's own random warmup end and whose merged
// rates came out low; a shard's own arrivals are now a thinned process,
// not a Poisson one, which does not matter since only the merged load is
// the experiment's. The common start below is what makes "one instant"
// hold across machines.
//
// Why a barrier and not a wall-clock start time given to all: a start
// time aligns the first cell only; every later cell would start when
// each shard finished the one before, and shards drift apart by the
// differences in their cells' tails. A barrier per cell keeps them
// together, and tells a shard at once, with a deadline, when another is
// missing rather than letting it measure a fraction of the load.
//
// Protocol (JSON over HTTP/1.1, every wait with a deadline):
//
//	GET  /time                                → {"unix_ns": …}
//	POST /barrier?name=N&shard=i&count=n&member=m, body: the shard's
//	     configuration lines (join only)      → {"run": …, "start_unix_ns": …}
//	                                             when all n arrived
//
// A shard arriving with another count, a configuration that differs from
// shard 0's, or an index that another process already took, is refused
// with 409 and a message naming the difference. The package keeps no
// package-level mutable state.
package shard
