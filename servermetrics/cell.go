package servermetrics

import "fmt"

// Cell is what an engine's own metrics said over one cell, under the
// project's names (Names maps the engine's names to them). A quantity the
// engine does not export is nil. It is plain data: summary.json stores
// it beside the cell's loadgen.Summary.
type Cell struct {
	Engine        string `json:"engine"` // whose names the scrapes carried: vllm, sglang, sim
	URL           string `json:"url"`
	IntervalMS    int64  `json:"interval_ms"`
	Scrapes       int    `json:"scrapes"` // taken while the cell ran, besides the one before and after
	FailedScrapes int    `json:"failed_scrapes,omitempty"`
	LastError     string `json:"last_error,omitempty"`

	Running     *Stat    `json:"running,omitempty"`      // requests in the batch
	Waiting     *Stat    `json:"waiting,omitempty"`      // requests queued
	KVUsagePct  *Stat    `json:"kv_usage_pct,omitempty"` // KV-cache use, percent (max is the peak)
	Preemptions *float64 `json:"preemptions,omitempty"`  // counter delta over the cell
	// PrefixHitPct is the prefix-cache hit rate over the cell, percent:
	// from the hit and query counters' deltas (vLLM: tokens) or the mean
	// of a hit-rate gauge (SGLang).
	PrefixHitPct *float64 `json:"prefix_hit_pct,omitempty"`
	// PrefixHitGauge: PrefixHitPct is the mean of a gauge of the last
	// batch's hit rate (SGLang's sglang:cache_hit_rate), not hits over
	// queries across the cell. It is a different quantity, so the
	// benchmark line names it differently (prefix-hit-gauge-%): benchstat
	// must not set it beside another engine's token-weighted rate.
	PrefixHitGauge bool     `json:"prefix_hit_gauge,omitempty"`
	MaxBatch       *float64 `json:"max_batch,omitempty"` // the batch limit, where the engine exports it (the simulator)

	// Names maps each quantity reported to the engine's metric it was
	// read from.
	Names map[Quantity]string `json:"names"`
	Notes []string            `json:"notes,omitempty"` // why a quantity is missing
	Flags []string            `json:"flags,omitempty"` // what weakens the cell (FlagBatchLimit)
}

// Stat is a gauge over a cell: the mean of the samples taken while it ran
// and the largest value any scrape saw (the one before and after
// included). A cell without a sample while it ran has no Stat.
type Stat struct {
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
	N    int     `json:"n"` // samples in the mean
}

// summarise turns the scrapes of a cell into its Cell. after is nil when
// the last scrape failed.
func summarise(before Snapshot, during []Snapshot, after Snapshot) Cell {
	c := Cell{Scrapes: len(during), Names: map[Quantity]string{}}
	all := append(append([]Snapshot{before}, during...), after)
	for _, s := range all {
		for _, v := range s {
			if c.Engine == "" {
				c.Engine = v.Engine
			}
		}
	}
	gauge := func(q Quantity, scale float64) *Stat {
		var st Stat
		seen := false
		for _, s := range all {
			if v, ok := s[q]; ok {
				if !seen || v.V*scale > st.Max {
					st.Max = v.V * scale
				}
				seen = true
				c.Names[q] = v.Metric
			}
		}
		if !seen {
			return nil
		}
		var sum float64
		for _, s := range during {
			if v, ok := s[q]; ok {
				sum += v.V * scale
				st.N++
			}
		}
		if st.N == 0 {
			// The scrapes before and after see an idle engine: they
			// would report a busy cell as empty.
			c.Notes = append(c.Notes, fmt.Sprintf("%s: no sample while the cell ran (it was shorter than the sampling interval): left out", q))
			delete(c.Names, q)
			return nil
		}
		st.Mean = sum / float64(st.N)
		return &st
	}
	// delta is a counter's increase over the cell: the sum of its
	// rises from one scrape to the next (before, the samples, after), a
	// fall counted as a restart from zero, as Prometheus's increase()
	// counts it — so a restart mid-cell neither hides the cell's work nor
	// gives a negative count.
	delta := func(q Quantity) (float64, bool) {
		first, ok := before[q]
		if !ok {
			return 0, false
		}
		seq := []Snapshot{before}
		seq = append(seq, during...)
		seq = append(seq, after)
		d, prev, resets, seen := 0.0, first.V, 0, false
		for _, s := range seq[1:] {
			v, ok := s[q]
			if !ok {
				continue
			}
			seen = true
			if v.V < prev {
				resets++
				d += v.V
			} else {
				d += v.V - prev
			}
			prev = v.V
		}
		if !seen {
			return 0, false
		}
		if resets > 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %s went down %d time(s) during the cell (the engine restarted?): counted from zero after each", q, first.Metric, resets))
		}
		c.Names[q] = first.Metric
		return d, true
	}

	c.Running = gauge(Running, 1)
	c.Waiting = gauge(Waiting, 1)
	c.KVUsagePct = gauge(KVUsage, 100)
	if d, ok := delta(Preemptions); ok {
		c.Preemptions = &d
	}
	hits, hok := delta(PrefixHits)
	queries, qok := delta(PrefixQueries)
	switch {
	case hok && qok && queries > 0:
		pct := 100 * hits / queries
		c.PrefixHitPct = &pct
	case hok && qok:
		c.Notes = append(c.Notes, "prefix_hit_rate: no prefix-cache query during the cell")
	default:
		if st := gauge(PrefixHitRate, 100); st != nil {
			c.PrefixHitPct, c.PrefixHitGauge = &st.Mean, true
		}
	}
	for _, s := range all { // a setting: any scrape tells it
		if v, ok := s[MaxBatch]; ok {
			c.MaxBatch = &v.V
			c.Names[MaxBatch] = v.Metric
			break
		}
	}
	return c
}

// FlagBatchLimit flags a closed-loop cell of the given concurrency whose
// engine never ran as many requests at once as the cell kept in flight
// while requests waited: a batch limit queued the rest, so the cell
// measures queueing in front of that limit, not concurrency requests
// served together. It reports whether it flagged the cell. An open loop
// (concurrency 0) or a cell without running and waiting counts is never
// flagged.
func (c *Cell) FlagBatchLimit(concurrency int) bool {
	if concurrency <= 0 || c.Running == nil || c.Waiting == nil {
		return false
	}
	if c.Running.Max >= float64(concurrency) || c.Waiting.Max <= 0 {
		return false
	}
	// A request passes through "waiting" for a step on its way in (vLLM),
	// and gauges sampled every 250 ms can miss the moment all were
	// running: flag only a limit the engine states below the
	// concurrency, or requests waiting on average over the cell.
	stated := c.MaxBatch != nil && *c.MaxBatch < float64(concurrency)
	if !stated && c.Waiting.Mean < 1 {
		return false
	}
	limit := ""
	if c.MaxBatch != nil {
		limit = fmt.Sprintf(" (its batch limit is %g)", *c.MaxBatch)
	}
	c.Flags = append(c.Flags, fmt.Sprintf(
		"the engine ran at most %g requests at once%s while up to %g waited, below the cell's concurrency %d: "+
			"the cell measures a queue in front of a batch of %g; to serve %d at once raise the engine's batch limit to at least %d "+
			"(engines.yaml sim.max_batch, vLLM --max-num-seqs, SGLang --max-running-requests, TensorRT-LLM --max_batch_size; "+
			"a KV cache too small for the batch limits it too)",
		c.Running.Max, limit, c.Waiting.Max, concurrency, c.Running.Max, concurrency, concurrency))
	return true
}

// Metric is one benchmark measurement: a value and its unit.
type Metric struct {
	Value float64
	Unit  string
}

// Metrics returns the cell's server metrics for its benchmark line, in a
// fixed order, leaving out what the engine does not export:
// server-running-max, server-waiting-max, kv-usage-peak-%, preemptions,
// prefix-hit-% (hits over queries in the cell; prefix-hit-gauge-% where
// the engine exports only a hit-rate gauge, SGLang).
func (c *Cell) Metrics() []Metric {
	var m []Metric
	if c.Running != nil {
		m = append(m, Metric{c.Running.Max, "server-running-max"})
	}
	if c.Waiting != nil {
		m = append(m, Metric{c.Waiting.Max, "server-waiting-max"})
	}
	if c.KVUsagePct != nil {
		m = append(m, Metric{c.KVUsagePct.Max, "kv-usage-peak-%"})
	}
	if c.Preemptions != nil {
		m = append(m, Metric{*c.Preemptions, "preemptions"})
	}
	switch {
	case c.PrefixHitPct != nil && c.PrefixHitGauge:
		m = append(m, Metric{*c.PrefixHitPct, "prefix-hit-gauge-%"})
	case c.PrefixHitPct != nil:
		m = append(m, Metric{*c.PrefixHitPct, "prefix-hit-%"})
	}
	return m
}
