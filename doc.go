// Package infbench benchmarks LLM serving engines — vLLM, SGLang and
// TensorRT-LLM, or the built-in simulator — over their OpenAI-compatible
// streaming API, and reports through testing.B so that benchstat can say
// whether a difference is real.
//
// BenchmarkServe/engine=E/conc=C/prompt=P runs one cell: a closed loop
// keeping C requests in flight with prompts of category P against engine
// E. Each engine is started once, in the parent benchmark, and every leaf
// runs on it; -count repeats a leaf back to back.
//
// # What is measured
//
// The definitions are those of package loadgen, restated here because
// every number in a results file rests on them:
//
//   - Clock: monotonic. An event is stamped when the read that completed
//     its line returns, before any JSON is decoded.
//   - TTFT: first event carrying generated text (delta.content,
//     reasoning text, or text) minus send time. Role-only, empty, comment
//     and usage-only events never stop the clock. TTFB (response headers)
//     is kept for diagnosis.
//   - E2E: last content-bearing event minus send time; the usage chunk
//     and [DONE] do not extend it.
//   - Output tokens: usage.completion_tokens, asked for with
//     stream_options.include_usage. Without usage, content events are
//     counted and the record says token_source=chunks. SSE lines are never
//     counted.
//   - TPOT: (E2E − TTFT) / (output tokens − 1), for more than one token.
//     Per-user speed is 1/TPOT.
//   - ITL: the gaps between consecutive content events; a gap whose event
//     carries k tokens gives k samples of gap/k, pooled over requests. k
//     comes from per-chunk usage where the engine sends it (vLLM
//     continuous_usage_stats); else, when events and tokens are equally
//     many, k = 1; else tokens are apportioned by text length, at least one
//     per event, and the ITL is marked estimated.
//   - Duration: first send of the measured requests to the last
//     completion (a request failing later does not stretch it).
//     Throughput is Σ output tokens / duration (total adds prompt tokens);
//     req/s is completed / duration; never an average of per-request rates.
//   - Goodput: completed requests meeting every SLO bound / duration.
//   - Percentiles: linear interpolation between closest ranks; p90 with
//     n < 10, p95 with n < 20 and p99 with n < 100 are flagged in the
//     summary and left out of the benchmark metrics.
//   - Errors: non-2xx status, transport error, malformed event, error
//     event, stall, deadline, a body ending before [DONE], a stream
//     without content. Failed requests
//     leave the latency statistics, count in err-%, and keep their reason.
//     A cell whose first requests all fail for one reason stops at once
//     (package loadgen's give-up rule) and fails; a cell whose error rate
//     is above max_error_rate (default 1%) reports its metrics and then
//     fails the run when it ends.
//
// Load: a closed loop (conc=C) keeps C requests in flight; open-loop cells
// (rate=R, from engines.yaml rates or INFBENCH_RATES) send on a Poisson or
// gamma schedule, the same for every engine at that rate and repetition
// (derived from the run seed, the rate and the repetition), and also
// measure latency from when each request was due.
// Warmup requests run first at the cell's load and flow into
// the measured ones without a drain. Every prompt starts with a unique
// salt line so prefix caches cannot answer it. Output length is fixed:
// max_tokens always set, ignore_eos where the engine accepts it, and
// requests that stop short are flagged.
package infbench
