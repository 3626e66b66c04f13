package servermetrics

// Quantity is a server metric under its project name, whatever the engine
// calls it.
type Quantity string

// The quantities infbench reads from an engine's Prometheus endpoint.
const (
	Running       Quantity = "running"         // requests in the running batch (gauge)
	Waiting       Quantity = "waiting"         // requests queued for the batch (gauge)
	KVUsage       Quantity = "kv_usage"        // KV-cache use, 0 to 1 (gauge)
	Preemptions   Quantity = "preemptions"     // requests preempted (counter)
	PrefixHits    Quantity = "prefix_hits"     // prefix-cache hits, in tokens (counter)
	PrefixQueries Quantity = "prefix_queries"  // prefix-cache queries, in tokens (counter)
	PrefixHitRate Quantity = "prefix_hit_rate" // prefix-cache hit rate, 0 to 1 (gauge)
	MaxBatch      Quantity = "max_batch"       // the running-batch limit, where exported (gauge)
)

// Kind says how a quantity is read over a cell.
type Kind int

const (
	Gauge   Kind = iota // sampled: mean and max over the cell
	Counter             // the delta from before the cell to after it
)

// Name is one engine's metric for a quantity: the family name as its
// /metrics text exposes it, and where that name was read.
type Name struct {
	Quantity Quantity
	Kind     Kind
	Engine   string // vllm, sglang, sim
	Metric   string // family name as exposed (counters with _total)
	Source   string // repository and path the name comes from
}

// Names is the mapping table, in lookup order: for each quantity the
// first name a scrape carries is the one used. It is the only place the
// engines' own names appear (README.md copies it). The sources are those
// of docs/engine-facts.md: vLLM's names from vllm/v1/metrics/loggers.py
// (stable across the stored versions; counters are exposed with _total by
// prometheus_client), SGLang's from python/sglang/srt/metrics/collector.py
// (served only with --enable-metrics). TensorRT-LLM has none here: its
// Prometheus endpoint (/prometheus/metrics) exists only with
// return_perf_metrics: true in --extra_llm_api_options, and the names of
// its MetricsCollector (tensorrt_llm/metrics/collector.py) were not read;
// its /metrics is JSON iteration statistics, not Prometheus.
//
// The simulator's prefix-cache counters count tokens as vLLM's do
// (engines/sim/prefixcache.go). SGLang's sglang:cache_hit_rate is the hit
// rate of the last prefill batch, set to 0 by every 40th decode batch's
// stats (docs/engine-facts.md): its mean over a cell understates the
// cell's hit rate, the more so the longer the outputs.
//
// Not mapped: SGLang's sglang:num_retracted_reqs (its preemptions) is
// newer than the pinned v0.5.6.post2 and its type was not read, so SGLang
// cells report no preemptions. vLLM's deprecated
// vllm:gpu_cache_usage_perc is a fallback only, for versions that still
// export it and not kv_cache_usage_perc.
func Names() []Name {
	const (
		vllm   = "vllm-project/vllm, vllm/v1/metrics/loggers.py"
		sglang = "sgl-project/sglang, python/sglang/srt/metrics/collector.py"
		sim    = "this module, engines/sim/server.go"
	)
	return []Name{
		{Running, Gauge, "vllm", "vllm:num_requests_running", vllm},
		{Running, Gauge, "sglang", "sglang:num_running_reqs", sglang},
		{Running, Gauge, "sim", "sim:num_requests_running", sim},

		{Waiting, Gauge, "vllm", "vllm:num_requests_waiting", vllm},
		{Waiting, Gauge, "sglang", "sglang:num_queue_reqs", sglang},
		{Waiting, Gauge, "sim", "sim:num_requests_waiting", sim},

		{KVUsage, Gauge, "vllm", "vllm:kv_cache_usage_perc", vllm},
		{KVUsage, Gauge, "vllm", "vllm:gpu_cache_usage_perc", vllm + " (deprecated alias)"},
		{KVUsage, Gauge, "sglang", "sglang:token_usage", sglang},

		{Preemptions, Counter, "vllm", "vllm:num_preemptions_total", vllm},
		{Preemptions, Counter, "sim", "sim:num_preemptions_total", sim},

		{PrefixHits, Counter, "vllm", "vllm:prefix_cache_hits_total", vllm},
		{PrefixHits, Counter, "sim", "sim:prefix_cache_hits_total", sim},
		{PrefixQueries, Counter, "vllm", "vllm:prefix_cache_queries_total", vllm},
		{PrefixQueries, Counter, "sim", "sim:prefix_cache_queries_total", sim},
		{PrefixHitRate, Gauge, "sglang", "sglang:cache_hit_rate", sglang},

		{MaxBatch, Gauge, "sim", "sim:max_batch", sim},
	}
}
