package loadgen

// turnTTFT fills the per-turn TTFT of a multi-turn workload's summary:
// the first turn of each session (its whole conversation is new to the
// server's prefix cache) apart from the later turns (which may extend a
// cached conversation). Other workloads' records have no turn, and leave
// both empty.
func (s *Summary) turnTTFT(records []Record) {
	var first, later []float64
	for i := range records {
		r := &records[i]
		if r.Warmup || !r.OK() || r.Turn == 0 {
			continue
		}
		if r.Turn == 1 {
			first = append(first, float64(r.TTFT))
		} else {
			later = append(later, float64(r.TTFT))
		}
	}
	if len(first)+len(later) == 0 {
		return
	}
	s.TTFTTurn1, s.TTFTLater = NewDist(first), NewDist(later)
}
