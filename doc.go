// Package infbench benchmarks LLM serving engines — vLLM, SGLang and
// TensorRT-LLM, or the built-in simulator — over their OpenAI-compatible
// streaming API, and reports through testing.B so that benchstat can say
// whether a difference is real.
//
// BenchmarkServe/engine=E/conc=C/workload=W (bench_test.go) runs one cell: a
// closed loop keeping C requests in flight of workload W (a prompt
// category of prompts.yaml, or an entry of workloads: — a dataset,
// synthetic lengths, a shared prefix, multi-turn sessions: package
// workload) against engine E; …/rate=R/… cells run an open loop at R
// requests/s; …/sweep=slo/workload=W runs a capacity search.
// The benchmark is a thin layer over this package, which any program can
// call the same way:
//
//   - Load reads engines.yaml and prompts.yaml with the INFBENCH_*
//     variables applied: a Suite, whose Matrix gives each engine's cells
//     (package cell) by load level.
//   - OpenRun creates the results folder (package resultsdir) and opens
//     GPU telemetry (package gpumem) where the engines run on this
//     machine's GPU.
//   - Run.StartEngine brings an engine up (package engines: a container,
//     the simulator, or a server already running), takes the GPU memory
//     baseline, and records what it is in run.json.
//   - Engine.Measure runs one cell on it (cell.Run, with the client and
//     loops of package loadgen) while package servermetrics samples the
//     engine's own Prometheus metrics, appends every request to
//     requests.jsonl as it completes and the cell's summary, with the
//     server metrics beside it, to summary.json, and returns the metrics
//     of its benchmark line.
//   - Engine.Sweep, with sweep: on, searches the highest open-loop rate
//     at which every SLO bound holds (package sweep: bracketing, then
//     bisection), each probe a cell measured as above, and records the
//     search in sweep.json.
//   - Run.Close renders the charts and report.md (package report).
//   - A sharded run (INFBENCH_SHARD=i/n): OpenRun joins shard 0's barrier
//     (package shard), Measure waits there before each cell and runs the
//     shard's share of it (cell.ShareOf: a closed loop's share of the
//     streams, an open loop's every n-th arrival of the one schedule),
//     and package merge unites the shards' folders into one.
//   - Main, TestMain's body, checks the flags and the -bench pattern before
//     anything starts and decides the exit status from what was measured:
//     a run that measured nothing, or a cell that stopped early or failed
//     more than max_error_rate of its requests, fails.
//
// Data flows one way: configuration → engine (an endpoint) → loadgen
// (records) → summary → metrics, results folder and report.
//
// What each number means — TTFT, E2E, TPOT, ITL, throughput, goodput,
// the clock and the client's own lag, percentiles, errors — is defined
// once, in package loadgen's documentation, next to the code that
// computes it.
package infbench
