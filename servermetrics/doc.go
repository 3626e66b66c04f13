// Package servermetrics reads what a serving engine says about itself
// while a cell runs: it scrapes the engine's Prometheus endpoint
// (engines.Endpoint.MetricsURL) once before the cell, every interval
// while it runs (each scrape with its own timeout) and once after, and
// maps each engine's metric names (Names: vLLM, SGLang, the simulator) to
// one project name each: requests running and waiting (mean, max),
// KV-cache usage (mean, peak), preemptions (the counter's delta over the
// cell) and the prefix-cache hit rate where the engine exports one.
//
// The text is parsed by github.com/prometheus/common/expfmt. The package
// knows nothing of loadgen or of containers: a Cell is plain data that
// the caller stores beside the cell's summary, flags (FlagBatchLimit) and
// turns into benchmark metrics (Cell.Metrics).
package servermetrics
