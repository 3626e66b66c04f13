package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart size: wide enough for a legend beside four concurrency levels,
// small enough to stay well under 100 KB as PNG.
const (
	chartW = 7 * vg.Inch
	chartH = 4.2 * vg.Inch
)

// sans is the charts' typeface, at size points: Liberation Sans, which
// gonum/plot embeds, reads better on screens than its default serif.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(14)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(11)
		a.Tick.Marker = niceTicks{}
	}
	p.Legend.TextStyle.Font = sans(11)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(-4)
	p.Add(plotter.NewGrid())
	return p
}

// concAxis makes the x axis the concurrency levels: logarithmic when they
// span a factor of 10 or more, ticks at the levels themselves.
func concAxis(a *plot.Axis, concs []int) {
	if len(concs) == 0 {
		return
	}
	lo, hi := float64(concs[0]), float64(concs[len(concs)-1])
	ticks := make(plot.ConstantTicks, len(concs))
	for i, c := range concs {
		ticks[i] = plot.Tick{Value: float64(c), Label: strconv.Itoa(c)}
	}
	a.Tick.Marker = ticks
	if lo > 0 && hi/lo >= 10 {
		a.Scale = plot.LogScale{}
		a.Min, a.Max = lo/1.25, hi*1.25
		return
	}
	pad := math.Max(1, (hi-lo)*0.08)
	a.Min, a.Max = math.Max(0, lo-pad), hi+pad
}

// fromZero starts the y axis at zero, with headroom above the data.
func fromZero(p *plot.Plot) {
	p.Y.Min = 0
	if p.Y.Max > 0 {
		p.Y.Max *= 1.08
	}
}

// series is one line: points in x order, NaN-free.
type series struct {
	name   string
	color  color.Color
	dashed bool
	xys    plotter.XYs
	labels []string // per point, or nil
}

// addSeries draws s as a line with point markers and a legend entry.
func addSeries(p *plot.Plot, s series) error {
	if len(s.xys) == 0 {
		return nil
	}
	l, sc, err := plotter.NewLinePoints(s.xys)
	if err != nil {
		return fmt.Errorf("series %s: %w", s.name, err)
	}
	l.Color, sc.Color = s.color, s.color
	l.Width = vg.Points(2)
	if s.dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		sc.Shape = draw.BoxGlyph{}
		sc.Radius = vg.Points(2.5)
	} else {
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(3)
	}
	p.Add(l, sc)
	p.Legend.Add(s.name, l, sc)
	if s.labels != nil {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: s.xys, Labels: s.labels})
		if err != nil {
			return fmt.Errorf("labels of %s: %w", s.name, err)
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font = sans(10)
			lb.TextStyle[i].Color = s.color
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(lb)
	}
	return nil
}

// save writes p as dir/base.png and dir/base.svg and returns the PNG's
// file name.
func save(p *plot.Plot, dir, base string) (string, error) {
	for _, f := range [...]string{"png", "svg"} {
		path := filepath.Join(dir, base+"."+f)
		wt, err := p.WriterTo(chartW, chartH, f)
		if err != nil {
			return "", fmt.Errorf("drawing %s: %w", path, err)
		}
		out, err := os.Create(path)
		if err != nil {
			return "", fmt.Errorf("writing chart: %w (is the results folder writable?)", err)
		}
		_, err = wt.WriteTo(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return base + ".png", nil
}

// fileSafe turns a prompt category or engine name into a file name part.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(slices.Clip(b))
}

// niceTicks puts about five labelled ticks at multiples of 1, 2 or 5 × 10^k,
// labelled without trailing zeros (gonum's default can print "250.00").
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = m * mag
	}
	var ts []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		v := k * step
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', 10, 64)})
		if minor := v + step/2; minor < hi {
			ts = append(ts, plot.Tick{Value: minor})
		}
	}
	return ts
}
