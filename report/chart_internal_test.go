package report

import (
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The y axis turns logarithmic only when the drawn values span more than
// a decade and are all positive.
func TestAutoY(t *testing.T) {
	for _, tc := range []struct {
		ys  []float64
		log bool
	}{
		{[]float64{5, 40}, false},   // 8×
		{[]float64{5, 60}, true},    // 12×
		{[]float64{0, 600}, false},  // a zero cannot go on a log axis
		{[]float64{0.5, 800}, true}, // sub-millisecond to seconds
	} {
		p := newPlot("", "x", "y")
		s := series{name: "a", color: okabeIto()[0]}
		for i, y := range tc.ys {
			s.add(float64(i+1), Value{Med: y, Min: y, Max: y}, 1)
		}
		if err := addSeries(p, nil, s); err != nil {
			t.Fatal(err)
		}
		if got := autoY(p); got != tc.log {
			t.Errorf("values %v: log axis %v, want %v", tc.ys, got, tc.log)
		}
		_, isLog := p.Y.Scale.(plot.LogScale)
		if isLog != tc.log || tc.log && !(p.Y.Min > 0 && p.Y.Min < tc.ys[0] && p.Y.Max > tc.ys[len(tc.ys)-1]) {
			t.Errorf("values %v: scale %T over [%g, %g]", tc.ys, p.Y.Scale, p.Y.Min, p.Y.Max)
		}
	}
}

// Log ticks label 1, 2, 5 × 10^k over a few decades and only powers of
// ten on a narrow axis.
func TestLogTicks(t *testing.T) {
	labels := func(ts []plot.Tick) (out []string) {
		for _, t := range ts {
			if t.Label != "" {
				out = append(out, t.Label)
			}
		}
		return out
	}
	got := labels(logTicks{}.Ticks(3, 700))
	want := []string{"5", "10", "20", "50", "100", "200", "500"}
	if len(got) != len(want) {
		t.Fatalf("ticks 3..700: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ticks 3..700: %v, want %v", got, want)
		}
	}
	if got := labels(logTicks{narrow: true}.Ticks(0.4, 700)); len(got) != 3 || got[0] != "1" || got[2] != "100" {
		t.Errorf("narrow ticks 0.4..700: %v, want 1 10 100", got)
	}
}

// Labels of points that crowd together are placed without overlapping
// one another.
func TestLabellerNoOverlap(t *testing.T) {
	p := newPlot("", "x", "y")
	lab := &labeller{}
	// Three lines whose points nearly coincide.
	for k := range 3 {
		s := series{name: string(rune('a' + k)), color: okabeIto()[k]}
		for i := range 4 {
			s.xys = append(s.xys, plotter.XY{X: float64(i*10 + k), Y: float64(100 - i*20 + 2*k)})
			s.labels = append(s.labels, "c=64")
		}
		if err := addSeries(p, lab, s); err != nil {
			t.Fatal(err)
		}
	}
	lab.marker(15, "x", "slo-max 15 req/s", okabeIto()[0])
	lab.marker(15, "y", "slo-max 15 req/s", okabeIto()[1])
	p.Add(lab)
	fromZero(p)
	c := vgimg.New(chartW, chartH)
	p.Draw(draw.New(c))
	if len(lab.placed) != 13 { // 12 point labels and one merged marker label
		t.Fatalf("placed %d labels, want 13", len(lab.placed))
	}
	for i, a := range lab.placed {
		for _, b := range lab.placed[i+1:] {
			if overlaps(a, b) {
				t.Errorf("labels at %v and %v overlap", a, b)
			}
		}
	}
}
