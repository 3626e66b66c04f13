// Package loadgen drives an OpenAI-compatible streaming endpoint and
// measures every request. It knows nothing of containers or engines: it
// gets a Target (base URL, model, the optional request fields the server
// accepts) and returns plain records.
//
//   - streamhttp (a subpackage) is the HTTP/1.1 client underneath: each
//     body read it returns comes from one socket read and carries the time
//     the kernel received those bytes.
//   - SSEReader frames server-sent events and stamps each one; ParseChunk
//     extracts the few fields that matter from its JSON.
//   - Client sends one streaming request to /v1/chat/completions or
//     /v1/completions and returns a Record.
//   - ClosedLoop keeps exactly C requests in flight.
//   - Summarize turns records into a Summary; Summary.Metrics gives the
//     benchmark metrics.
//
// # Definitions
//
// Clock. An event's time is when the kernel received the bytes of the
// socket read that completed its last data line: on Linux the software
// receive timestamp (SO_TIMESTAMPING, SOF_TIMESTAMPING_RX_SOFTWARE), read
// with recvmsg on every read, so a read the client makes late still
// carries the arrival time. It is mapped onto the monotonic clock (the
// kernel's wall-clock stamp is subtracted from the wall reading of the
// time.Now taken as the read returns, and that difference from its
// monotonic reading), and taken before any JSON is decoded. Where the
// kernel gives no stamp (another OS, an https target: TLS buffers below
// the plaintext, so a byte cannot be traced to its read) the time is when
// the read returned; Record.Clock and Summary.Clock say which ("kernel",
// "user", "mixed"), and a cell not stamped by the kernel is flagged.
//
// Client lag. Per content event, the user-space stamp − the kernel stamp:
// how long the bytes waited before the client read them. It is excluded
// from every latency and reported per cell (Summary.ClientLag; p99 on the
// benchmark line as client-lag-p99-ns): the harness's own error bound.
//
// Shared stamps. Events that arrive in one read share its stamp — the
// kernel stamps a read with its newest bytes — so the earlier one's time
// is late by up to the client lag. They are counted per request
// (Record.SharedStamps) and per cell; a cell where more than one content
// event in ten shared a read (SharedStampsFlag) is flagged.
//
// Send time. Taken immediately before the request's bytes are written to
// a connection, after one is taken from the pool (or dialled); the
// request body is built before it. A pooled connection the server closed
// as the request went out (no byte of a response back) makes the request
// go again, once, on a new connection, with a new send time. The stall
// timeout counts from the start of Do, so a wait for a connection (at
// most the drain of the previous request's body) counts toward it.
// Set in Client.send.
//
// TTFB. The kernel's receipt of the read that completed the response
// headers − send time (diagnosis only). Computed in Client.send.
//
// TTFT. The first event whose first choice carries non-empty text —
// delta.content, delta.reasoning_content or delta.reasoning (chat), text
// (completions) — minus send time. Role-only, empty-content, comment
// (": ping"), usage-only and [DONE] events never stop the clock. An event
// carries content when ParseChunk sets Chunk.ContentBytes; Client.stream
// records it, and Client.finish sets Record.TTFT from the first.
//
// E2E latency. The last content-bearing event − send time. The usage-only
// chunk and [DONE] do not extend it. Record.End, when the request
// finished, is the [DONE] event (or the failure). Set in Client.finish.
//
// Output tokens. usage.completion_tokens, asked for with
// stream_options.include_usage (Record.TokenSource "usage"). When the
// server sends no usage, the content events are counted and the source is
// "chunks" (and the summary says so). A usage count below the number of
// content events cannot be true (each carries at least one token): the
// events are counted and the source is "chunks-usage-too-low". SSE lines
// are never counted. Chosen in Client.finish.
//
// Prompt tokens. usage.prompt_tokens.
//
// TPOT. Per request, (E2E − TTFT) / (output tokens − 1), for requests with
// more than one output token; the same as vLLM's and SGLang's TPOT and
// AIPerf's "ITL". Record.TPOT.
//
// ITL. The gaps between consecutive content events of a request, pooled
// over all requests; a gap whose event carries k tokens counts as k samples
// of gap/k. k per event (Record.ITLSource): from per-chunk cumulative usage
// where the server sends it (vLLM continuous_usage_stats): exact; else 1
// when there are exactly as many content events as output tokens; else the
// output tokens are apportioned over the events in proportion to their
// text length, at least one per event (largest remainder), and the ITL is
// flagged as estimated. Tokens per event: Record.assignTokens; samples:
// Record.itlSamples.
//
// Per-user speed. 1/TPOT per request, in tokens/s; tok/s/user is its
// median. Sampled in accumulator.completed.
//
// Duration. First send of the measured requests (warmup excluded) → last
// completion of a completed one. A request failing after it (a stall at
// the end of a cell) does not stretch the duration. accumulator.derive.
//
// Throughput. Output tok/s = Σ output tokens of completed requests /
// duration; total tok/s adds their prompt tokens; req/s = completed /
// duration. Never an average of per-request rates (an average of rates
// hides queueing; a sum of tokens over a sum of latencies falls as
// concurrency rises). accumulator.derive.
//
// Goodput. Completed requests meeting every SLO bound (TTFT, TPOT, E2E; a
// zero bound is none) / duration. In an open loop TTFT and E2E count from
// when each request was due. SLO.Met decides; accumulator.derive divides.
//
// Percentiles. Linear interpolation between closest ranks: for n sorted
// values the p-th percentile is at rank h = (n−1)·p/100, interpolated
// between ⌊h⌋ and ⌈h⌉. Distributions report n, mean, std (n−1), min, max,
// p50, p90, p95, p99. p90 with n < 10, p95 with n < 20 and p99 with
// n < 100 are flagged: with fewer samples not even one lies above them.
// NewDist computes them; Summary.Metrics leaves the flagged
// ones out of the benchmark line.
//
// Errors. A request fails with a kind: "http" (non-2xx, with the body's
// message), "transport" (connect failure, connection cut mid-stream),
// "malformed" (an event that is not JSON), "server" (an error object in
// the stream), "stall" (no event within the stall timeout), "deadline"
// (the request timeout), "truncated" (the body ended before [DONE]),
// "no-content" (a stream without any content).
// Failed requests leave the latency statistics, count in the error rate
// (failed / requests) and keep their reason; "canceled" (the run was
// stopped) is counted apart and not charged to the server. The kinds are
// the ErrorKind constants; Client.fail and Client.response classify, the
// collector relabels requests cut off by the end of a run.
//
// Output length. Requests with fewer output tokens than max_tokens are
// counted and flagged: with ignore_eos the output length is meant to be
// fixed.
//
// # Load
//
// ClosedLoop keeps exactly Concurrency requests in flight: each worker
// sends its next request the moment its previous one ends, until
// Warmup + Requests have been sent. Warmup requests are the first sent and
// flow into the measured ones without a drain. Ramp spreads the workers'
// first requests over an interval.
//
// OpenLoop sends requests at precomputed absolute times (gamma-distributed
// gaps at a fixed rate; shape 1 is a Poisson process), whatever the server
// does, at most MaxInFlight at a time. Each record keeps when it was due
// (Scheduled) as well as when it was sent; the summary adds TTFT and E2E
// measured from the schedule — a server that falls behind shows its queue
// there instead of slowing the client down (no coordinated omission) — the
// send lag, and the request rate actually achieved.
//
// Giving up. When the first k requests of a run to finish (warmup
// included) all failed for one reason — the error kind, and for HTTP
// errors the status class (http 4xx, http 5xx) — the loop cancels the
// requests in flight and returns a *HopelessError (errors.Is ErrHopeless).
// k is GiveUpAfter, by default the concurrency (OpenLoop: MaxInFlight)
// clamped to 2..8, so a server that stalls costs about one stall timeout.
// A request builder gets the loop's context, which ends then too.
//
// Turns. Records of a multi-turn workload carry a session and a turn; the
// summary gives TTFT of first turns (TTFTTurn1), of later turns
// (TTFTLater) and of each turn number (TTFTByTurn, summary.json
// ttft_by_turn_ns, every turn). The benchmark line has ttft-turn1-p50-ns,
// ttft-later-p50-ns and ttft-turnK-p50-ns for K = 2..MaxTurnMetrics (8):
// a line of 8 more metrics is still readable by benchstat, and sessions
// longer than 8 turns are rare in benchmarks; later turns are in
// summary.json. Summaries of records without turns leave all of it out.
package loadgen
