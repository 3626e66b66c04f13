// Package report turns a results folder (package resultsdir) into what people
// read: charts rendered with gonum.org/v1/plot, as PNG and SVG, a Markdown
// report, report.md, and summary.csv, one row per cell run, for
// spreadsheets (its columns: csvColumns, documented in README.md).
//
// Render draws from summary.json as the run wrote it, with requests.jsonl
// for the latency distributions and sweep.json for the capacities;
// Rebuild first recomputes every cell's summary from requests.jsonl
// (loadgen.Summarize over the records in index order, warmup excluded,
// with the run's SLO), rewrites summary.json, then renders. Rebuild on an
// intact folder reproduces summary.json exactly; on a folder from a
// killed run it also summarises the cell that was cut off.
//
// report.md has one section per workload: closed-loop tables (the
// engines side by side per concurrency), the open-loop table (per engine
// and offered rate), the capacity table from sweep.json, the flags and
// the charts. A table value computed from too few samples (loadgen.
// MinSamples: p90 < 10, p95 < 20, p99 < 100) carries a mark (†, ‡, …)
// explained under the table ("† p99 of 16 samples (< 100)").
//
// Charts, per workload: throughput against concurrency; TTFT, TPOT, E2E
// and ITL p50 (solid) and p99 (dashed) against concurrency, with the SLO
// bound; goodput and completed requests/s against concurrency; the
// trade-off of output tok/s per GPU against tok/s per user (median
// 1/TPOT), each point labelled with its concurrency; the distributions
// (empirical CDF) of TTFT and E2E per engine, a panel per concurrency;
// for open-loop cells, TTFT from the schedule, TPOT and goodput against
// the offered rate, with the SLO bound and each engine's found capacity
// (a vertical line labelled "slo-max X req/s"). Per run, where
// gpu-<engine>.jsonl telemetry exists: GPU memory and power over time.
//
// Drawing rules: every engine keeps its colour in every chart (the
// palette is indexed by the engine's position in run.json); the legend
// is drawn in a column beside the data; labels are placed where no line,
// point or other label is (labeller); an axis is logarithmic when its
// values span more than a decade (autoY, levelAxis); a p99 from fewer than
// 100 samples is left out of the charts. A cell run several times
// (-count) is shown by the median of its repetitions with a bar from
// their minimum to their maximum; the distributions pool them.
package report
