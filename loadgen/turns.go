package loadgen

import "fmt"

// MaxTurnMetrics is the last turn number that gets a ttft-turnK-p50-ns
// benchmark metric of its own; summary.json's ttft_by_turn lists every
// turn whatever its number.
const MaxTurnMetrics = 8

// TurnDist is the TTFT distribution of one turn number.
type TurnDist struct {
	Turn int `json:"turn"`
	Dist
}

// turnTTFT fills the per-turn TTFT of a multi-turn workload's summary:
// the first turn of each session (its whole conversation is new to the
// server's prefix cache) apart from the later turns (which may extend a
// cached conversation), and each turn number on its own. Other
// workloads' records have no turn, and leave all three nil.
func (s *Summary) turnTTFT(records []Record) {
	var first, later []float64
	byTurn := map[int][]float64{}
	last := 0
	for i := range records {
		r := &records[i]
		if r.Warmup || !r.OK() || r.Turn == 0 {
			continue
		}
		v := float64(r.TTFT)
		if r.Turn == 1 {
			first = append(first, v)
		} else {
			later = append(later, v)
		}
		byTurn[r.Turn] = append(byTurn[r.Turn], v)
		last = max(last, r.Turn)
	}
	if len(first)+len(later) == 0 {
		return
	}
	t1, tl := NewDist(first), NewDist(later)
	s.TTFTTurn1, s.TTFTLater = &t1, &tl
	for k := 1; k <= last; k++ {
		s.TTFTByTurn = append(s.TTFTByTurn, TurnDist{Turn: k, Dist: NewDist(byTurn[k])})
	}
}

// turnMetrics are the ttft-turnK-p50-ns metrics, turns 2..MaxTurnMetrics
// (turn 1's is ttft-turn1-p50-ns, from TTFTTurn1, the same records).
func (s Summary) turnMetrics(dist func(d Dist, name string, ps ...string)) {
	for _, t := range s.TTFTByTurn {
		if t.Turn >= 2 && t.Turn <= MaxTurnMetrics {
			dist(t.Dist, fmt.Sprintf("ttft-turn%d", t.Turn), "p50")
		}
	}
}
