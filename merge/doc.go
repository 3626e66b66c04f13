// Package merge turns the results folders of the shards of one sharded
// run (INFBENCH_SHARD) into one results folder, as if one process had
// run the whole load:
//
//   - requests.jsonl: every shard's records, each with its "shard", on
//     one timeline: a shard's Sent offsets count from its own cell start
//     (shard.jsonl, on its monotonic clock); the start plus the clock
//     offset the shard measured against the coordinator puts it on the
//     coordinator's clock, and every record moves by its shard's start
//     minus the earliest shard's;
//   - summary.json: every cell's summary recomputed from the united raw
//     records (loadgen.Summarize, as report.Recompute does): percentiles
//     over all requests, never an average of the shards' percentiles;
//     duration the global span, first send to last completion, on the
//     aligned timeline; the server metrics are shard 0's (every shard
//     scraped the same server);
//   - report.md and the charts (package report);
//   - bench.txt: the configuration lines of run.json and one benchmark
//     line per cell run, named and measured as BenchmarkServe prints them
//     (loadgen.Summary.Metrics), which benchstat reads as one process's.
//
// A shard that died mid-cell leaves the records it completed; the merge
// keeps them, flags the cell and says which shard is short (fewer records
// than its share). Folders of different runs — another seed, another
// configuration, another shard count, a shard missing or given twice —
// are refused with the difference named.
package merge
