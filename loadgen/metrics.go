package loadgen

// Metric is one benchmark measurement in benchfmt form: a value and its
// unit. Units follow the benchstat conventions: latencies in nanoseconds
// with a "-ns" suffix (benchstat rescales them), rates per second.
type Metric struct {
	Value float64
	Unit  string
}

// Metrics returns the summary as benchmark metrics, in a fixed order.
// Latency percentiles come from the distributions in the package
// documentation; tok/s/user is the median per-user speed (1/TPOT).
// A percentile computed from too few samples to mean what it says (see
// MinSamples: p99 needs 100) is left out rather than reported as if it
// did: it stays, flagged, in the Summary. A distribution without samples
// contributes nothing; goodput-req/s appears only when an SLO is set. An
// open loop adds ttft-sched-*, e2e-sched-* (latency from the time each
// request was due) and sent-req/s (the request rate it achieved).
// total-tok/s is left out when prompt tokens are unknown (a server that
// sent no usage): it is never computed as if they were zero.
func (s Summary) Metrics() []Metric {
	var m []Metric
	dist := func(d Dist, name string, ps ...string) {
		if d.N == 0 {
			return
		}
		for _, p := range ps {
			if d.N < MinSamples(p) {
				continue
			}
			v := map[string]float64{"p50": d.P50, "p90": d.P90, "p95": d.P95, "p99": d.P99, "mean": d.Mean}[p]
			m = append(m, Metric{v, name + "-" + p + "-ns"})
		}
	}
	dist(s.TTFT, "ttft", "p50", "p90", "p99")
	if s.TTFTTurn1 != nil {
		dist(*s.TTFTTurn1, "ttft-turn1", "p50")
		dist(*s.TTFTLater, "ttft-later", "p50")
		s.turnMetrics(dist)
	}
	dist(s.TPOT, "tpot", "p50", "p99")
	dist(s.ITL, "itl", "p50", "p99")
	dist(s.E2E, "e2e", "p50", "p99")
	dist(s.ClientLag, "client-lag", "p99")
	if s.Paced {
		dist(s.TTFTFromSchedule, "ttft-sched", "p50", "p99")
		dist(s.E2EFromSchedule, "e2e-sched", "p50", "p99")
		if s.SentReqPerSec > 0 {
			m = append(m, Metric{s.SentReqPerSec, "sent-req/s"})
		}
	}
	if s.Completed > 0 {
		m = append(m, Metric{s.OutputTokPerSec, "tok/s"})
		if s.TotalTokPerSec != nil { // nil: prompt tokens unknown (no usage)
			m = append(m, Metric{*s.TotalTokPerSec, "total-tok/s"})
		}
		m = append(m, Metric{s.ReqPerSec, "req/s"})
	}
	if s.UserSpeed.N > 0 {
		m = append(m, Metric{s.UserSpeed.P50, "tok/s/user"})
	}
	m = append(m, Metric{100 * s.ErrorRate, "err-%"})
	if s.SLO != (SLO{}) {
		m = append(m, Metric{s.GoodputReqPerS, "goodput-req/s"})
	}
	return m
}
