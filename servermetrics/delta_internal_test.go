package servermetrics

import (
	"strings"
	"testing"
)

// A counter that falls mid-cell (the engine restarted) is counted from
// zero after the fall, as Prometheus's increase() counts it: 10→14 is 4,
// the restart to 3 adds 3, 3→5 adds 2.
func TestCounterDeltaAcrossARestart(t *testing.T) {
	v := func(x float64) Snapshot {
		return Snapshot{Preemptions: {V: x, Metric: "vllm:num_preemptions_total", Engine: "vllm"}}
	}
	c := summarise(v(10), []Snapshot{v(14), v(3)}, v(5))
	if c.Preemptions == nil || *c.Preemptions != 9 {
		t.Fatalf("preemptions %v, want 9", c.Preemptions)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "went down 1 time(s)") {
		t.Errorf("notes %q", c.Notes)
	}
	c = summarise(v(10), []Snapshot{v(12)}, v(15))
	if c.Preemptions == nil || *c.Preemptions != 5 || len(c.Notes) != 0 {
		t.Errorf("no restart: %v, notes %q", c.Preemptions, c.Notes)
	}
}
