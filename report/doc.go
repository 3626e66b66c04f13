// Package report turns a results folder (package resultsdir) into what people
// read: charts rendered with gonum.org/v1/plot, as PNG and SVG, and a
// Markdown report, report.md, with the run's context, one table per prompt
// category with the engines side by side, every flag spelled out, and the
// charts embedded by relative path.
//
// Render draws from summary.json as the run wrote it; Rebuild first
// recomputes every cell's summary from requests.jsonl (loadgen.Summarize
// over the records in index order, warmup excluded, with the run's SLO),
// rewrites summary.json, then renders. Rebuild on an intact folder
// reproduces summary.json exactly; on a folder from a killed run it also
// summarises the cell that was cut off.
//
// Charts, per prompt category: throughput (output tok/s) against
// concurrency; TTFT and TPOT, p50 solid and p99 dashed, against
// concurrency; the trade-off of output tok/s per GPU against tok/s per
// user (median 1/TPOT), each point labelled with its concurrency. Per run,
// where gpu-<engine>.jsonl telemetry exists: GPU memory and power over
// time. Every engine keeps its colour in every chart: the palette is
// indexed by the engine's position in run.json.
//
// A cell run several times (-count) is shown by the median of its
// repetitions.
package report
