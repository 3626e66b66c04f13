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

// Chart size: the data area plus a legend column on the right, small
// enough to stay well under 100 KB as PNG.
const (
	chartW = 7.5 * vg.Inch
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
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(11)
		a.Tick.Marker = niceTicks{}
	}
	p.Legend.TextStyle.Font = sans(11)
	p.Legend.Padding = vg.Points(3)
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p
}

// levelAxis makes the x axis the load levels (concurrencies or rates):
// logarithmic when they span a factor of 10 or more, ticks at the levels
// themselves.
func levelAxis(a *plot.Axis, levels []float64) {
	if len(levels) == 0 {
		return
	}
	lo, hi := levels[0], levels[len(levels)-1]
	ticks := make(plot.ConstantTicks, len(levels))
	for i, v := range levels {
		ticks[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	a.Tick.Marker = ticks
	if lo > 0 && hi/lo >= 10 {
		a.Scale = plot.LogScale{}
		a.Min, a.Max = lo/1.25, hi*1.25
		if len(levels) > maxLevelTicks {
			a.Tick.Marker = logTicks{}
		}
		return
	}
	if len(levels) > maxLevelTicks {
		a.Tick.Marker = niceTicks{}
	}
	pad := math.Max(0.05*hi, (hi-lo)*0.08)
	a.Min, a.Max = math.Max(0, lo-pad), hi+pad
}

// maxLevelTicks is the most load levels ticked one by one; a capacity
// search probes many rates, and their labels would collide: beyond it the
// axis is ticked at round numbers.
const maxLevelTicks = 8

func concLevels(concs []int) []float64 {
	out := make([]float64, len(concs))
	for i, c := range concs {
		out[i] = float64(c)
	}
	return out
}

// decade is the span of a y axis beyond which it is drawn logarithmic:
// on a linear axis, values ten times below the largest sit flat on zero.
const decade = 10

// autoY picks the y axis of p from what was drawn on it (its data range,
// error bars included): logarithmic when every value is positive and the
// largest is more than ten times the smallest, else linear from zero
// with headroom. It reports whether it chose the log scale.
func autoY(p *plot.Plot) bool {
	lo, hi := p.Y.Min, p.Y.Max
	if lo > 0 && hi/lo > decade && !math.IsInf(hi, 0) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
		p.Y.Min, p.Y.Max = lo/1.3, hi*1.3
		return true
	}
	fromZero(p)
	return false
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
	// lo and hi, when set, are per point the smallest and largest value
	// of the cell's repetitions: drawn as an error bar where they differ.
	lo, hi []float64
	labels []string // per point, or nil: placed by the figure's labeller
}

// add appends a point with its repetitions' extremes.
func (s *series) add(x float64, v Value, scale float64) {
	if math.IsNaN(v.Med) {
		return
	}
	s.xys = append(s.xys, plotter.XY{X: x, Y: v.Med / scale})
	s.lo = append(s.lo, v.Min/scale)
	s.hi = append(s.hi, v.Max/scale)
}

// addSeries draws s as a line with point markers, its spread as error
// bars, and a legend entry. Labels go to lab, which places them where
// nothing else is drawn.
func addSeries(p *plot.Plot, lab *labeller, s series) error {
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
	if err := addSpread(p, s); err != nil {
		return err
	}
	if lab != nil {
		lab.obstacleLine(s.xys)
		for i, t := range s.labels {
			lab.label(s.xys[i], t, s.color)
		}
	}
	return nil
}

// addSpread draws the min–max of the repetitions behind each point of s
// that has any spread.
func addSpread(p *plot.Plot, s series) error {
	var pts errPoints
	for i, xy := range s.xys {
		if i < len(s.lo) && s.hi[i] > s.lo[i] {
			pts.XYs = append(pts.XYs, xy)
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{xy.Y - s.lo[i], s.hi[i] - xy.Y})
		}
	}
	if len(pts.XYs) == 0 {
		return nil
	}
	eb, err := plotter.NewYErrorBars(pts)
	if err != nil {
		return fmt.Errorf("spread of %s: %w", s.name, err)
	}
	eb.Color = s.color
	eb.Width = vg.Points(1.5)
	eb.CapWidth = vg.Points(8)
	p.Add(eb)
	return nil
}

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// save writes the panels (one plot, or several in a grid under one
// title) as dir/base.png and dir/base.svg and returns the PNG's file
// name. The first panel's legend is drawn in a column right of the data,
// never over it; the first panel's axis labels are the figure's.
func save(dir, base, title string, panels ...*plot.Plot) (string, error) {
	leg := panels[0].Legend
	for _, p := range panels {
		l := plot.NewLegend()
		l.TextStyle, l.Padding = leg.TextStyle, leg.Padding
		p.Legend = l // drawn outside instead
	}
	rows, cols := 1, len(panels)
	h := chartH
	if len(panels) > 2 {
		cols = 2
		rows = (len(panels) + 1) / 2
		h = chartH * vg.Length(1+0.4*float64(rows-1))
	}
	for _, f := range [...]string{"png", "svg"} {
		path := filepath.Join(dir, base+"."+f)
		c, err := draw.NewFormattedCanvas(chartW, h, f)
		if err != nil {
			return "", fmt.Errorf("drawing %s: %w", path, err)
		}
		drawFigure(draw.New(c), title, panels, rows, cols, leg)
		out, err := os.Create(path)
		if err != nil {
			return "", fmt.Errorf("writing chart: %w (is the results folder writable?)", err)
		}
		_, err = c.WriteTo(out)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return base + ".png", nil
}

// drawFigure lays out a figure: the title across the top, the panels in
// a grid, the legend in a column on the right, top-aligned with the
// data. It draws the axis labels itself, once for the figure, centred on
// the data: gonum/plot reserves room for them at the arithmetic middle
// of the axis range, which on a log axis lies far off centre and
// squeezes the data area.
func drawFigure(dc draw.Canvas, title string, panels []*plot.Plot, rows, cols int, leg plot.Legend) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	pad := vg.Points(8)
	var legW vg.Length
	if r := leg.Rectangle(dc); r.Size().X > 0 {
		legW = r.Size().X + 3*pad
	}
	if title != "" {
		sty := panels[0].Title.TextStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		w := sty.Width(title)
		// Centred over the data, but never cut off at the left edge.
		x := max((dc.Min.X+dc.Max.X-legW)/2, dc.Min.X+w/2+vg.Points(4))
		dc.FillText(sty, vg.Point{X: x, Y: dc.Max.Y - vg.Points(4)}, title)
		dc = draw.Crop(dc, 0, 0, 0, -(sty.Rectangle(title).Size().Y + vg.Points(10)))
	}
	area := draw.Crop(dc, 0, -legW, 0, 0)
	xText, xStyle := panels[0].X.Label.Text, panels[0].X.Label.TextStyle
	yText, yStyle := panels[0].Y.Label.Text, panels[0].Y.Label.TextStyle
	for _, p := range panels {
		p.X.Label.Text, p.Y.Label.Text = "", ""
	}
	outer := area
	if yText != "" {
		area = draw.Crop(area, yStyle.Height(yText)+vg.Points(4), 0, 0, 0)
	}
	if xText != "" {
		area = draw.Crop(area, 0, 0, xStyle.Height(xText)+vg.Points(2), 0)
	}
	cells := []draw.Canvas{area}
	if len(panels) > 1 {
		cells = cells[:0]
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(16), PadY: vg.Points(10), PadRight: vg.Points(4)}
		for i := range panels {
			cells = append(cells, tiles.At(area, i%cols, i/cols))
		}
	}
	var data []draw.Canvas
	for i, p := range panels {
		p.Draw(cells[i])
		data = append(data, p.DataCanvas(cells[i]))
	}
	// The labels centre on the data of the whole grid.
	lo, hi := data[0].Min, data[0].Max
	for _, d := range data {
		lo.X, lo.Y = min(lo.X, d.Min.X), min(lo.Y, d.Min.Y)
		hi.X, hi.Y = max(hi.X, d.Max.X), max(hi.Y, d.Max.Y)
	}
	if xText != "" {
		sty := xStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
		outer.FillText(sty, vg.Point{X: (lo.X + hi.X) / 2, Y: outer.Min.Y + sty.FontExtents().Descent}, xText)
	}
	if yText != "" {
		sty := yStyle
		sty.Rotation += math.Pi / 2
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		outer.FillText(sty, vg.Point{X: outer.Min.X, Y: (lo.Y + hi.Y) / 2}, yText)
	}
	if legW > 0 {
		col := dc
		col.Min.X, col.Max.X = dc.Max.X-legW+pad, dc.Max.X-pad
		col.Max.Y = hi.Y
		leg.Top, leg.Left = true, true
		leg.XOffs, leg.YOffs = 0, 0
		leg.Draw(col)
	}
}

// fileSafe turns a workload or engine name into a file name part.
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
		ts = append(ts, plot.Tick{Value: v, Label: tickLabel(v)})
		if minor := v + step/2; minor < hi {
			ts = append(ts, plot.Tick{Value: minor})
		}
	}
	return ts
}

// logTicks labels a log axis at 1, 2 and 5 × 10^k when it spans up to
// three decades, at the powers of ten beyond, with unlabelled minor ticks
// at the other integer multiples. A narrow axis (a panel of several) is
// labelled at the powers of ten only.
type logTicks struct{ narrow bool }

// Ticks implements plot.Ticker.
func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0 && hi > lo) {
		return niceTicks{}.Ticks(lo, hi)
	}
	labelled := []float64{1, 2, 5}
	if hi/lo > 1000 || t.narrow && hi/lo > 10 {
		labelled = []float64{1}
	}
	var ts []plot.Tick
	for k := math.Floor(math.Log10(lo)); k <= math.Ceil(math.Log10(hi)); k++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, k)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if slices.Contains(labelled, m) {
				t.Label = tickLabel(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// tickLabel prints v with at most six significant digits and no
// trailing zeros or exponent.
func tickLabel(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}
