// Package resultsdir keeps what a benchmark run measured, in a folder that
// outlives the process and reads back without the code that wrote it:
//
//	run.json        the run's context: configuration, engines and their
//	                Info lines, model, GPU, host, Go, git revision, start
//	requests.jsonl  one JSON line per request (Request), appended as each
//	                completes, warmup included
//	summary.json    every cell's loadgen.Summary (Summaries), rewritten
//	                atomically after each cell
//	shard.jsonl     one shard of a sharded run only: each cell run's start,
//	                clock offset and share (ShardCell), appended as it starts
//
// A Writer creates the folder and keeps the three files valid at every
// instant: a run killed halfway leaves every request it finished in
// requests.jsonl (at worst a truncated last line, which ReadRequests
// drops) and a summary.json that parses. ReadRun, ReadRequests and
// ReadSummaries read them back.
//
// The package keeps no package-level mutable state.
package resultsdir
