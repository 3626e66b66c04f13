package report

import (
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// labeller is a plotter, added last, that places text where nothing else
// is drawn: each label tries several spots around its anchor and takes
// the first that overlaps no line, no point and no label placed before
// it (the one with fewest overlaps if none is free). It also draws the
// vertical markers (a found capacity) whose labels it places.
type labeller struct {
	lines   []plotter.XYs // obstacles: the series' polylines, data units
	hlines  []float64     // obstacles: horizontal lines at these y values
	labels  []pointLabel
	markers []vMarker
	// placed are the boxes of the labels drawn, in canvas units, for tests.
	placed []vg.Rectangle
}

type pointLabel struct {
	at    plotter.XY
	text  string
	color color.Color
}

// vMarker is a dotted vertical line at x, labelled beside it with the
// engines it belongs to and text.
type vMarker struct {
	x       float64
	engines []string
	text    string
	color   color.Color
}

func (l *labeller) obstacleLine(xys plotter.XYs) { l.lines = append(l.lines, xys) }

func (l *labeller) label(at plotter.XY, t string, c color.Color) {
	l.labels = append(l.labels, pointLabel{at, t, c})
}

// marker adds a vertical line at x for engine, labelled "engine: t".
func (l *labeller) marker(x float64, engine, t string, c color.Color) {
	l.markers = append(l.markers, vMarker{x, []string{engine}, t, c})
}

// DataRange implements plot.DataRanger: the markers' x must be on the
// axis; labels add nothing.
func (l *labeller) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, m := range l.markers {
		xmin, xmax = math.Min(xmin, m.x), math.Max(xmax, m.x)
	}
	return
}

func labelStyle(c color.Color) text.Style {
	return text.Style{Color: c, Font: sans(10), Handler: plot.DefaultTextHandler}
}

// Plot implements plot.Plotter.
func (l *labeller) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pt := func(xy plotter.XY) vg.Point { return vg.Point{X: trX(xy.X), Y: trY(xy.Y)} }
	var segs [][2]vg.Point
	var dots []vg.Point
	for _, xys := range l.lines {
		for i, xy := range xys {
			dots = append(dots, pt(xy))
			if i > 0 {
				segs = append(segs, [2]vg.Point{pt(xys[i-1]), pt(xy)})
			}
		}
	}
	for _, y := range l.hlines {
		yy := trY(y)
		segs = append(segs, [2]vg.Point{{X: c.Min.X, Y: yy}, {X: c.Max.X, Y: yy}})
	}
	for _, m := range l.markers {
		x := trX(m.x)
		sty := draw.LineStyle{Color: m.color, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
		segs = append(segs, [2]vg.Point{{X: x, Y: c.Min.Y}, {X: x, Y: c.Max.Y}})
	}
	// place picks the candidate corner for a w×h box (h×w when
	// rotated) with the fewest overlaps, and keeps the box.
	place := func(w, h vg.Length, rotated bool, cands []vg.Point) (vg.Point, bool) {
		size := vg.Point{X: w, Y: h}
		if rotated {
			size = vg.Point{X: h, Y: w}
		}
		best, bestHits := vg.Point{}, math.MaxInt
		for _, at := range cands {
			r := vg.Rectangle{Min: at, Max: vg.Point{X: at.X + size.X, Y: at.Y + size.Y}}
			if r.Min.X < c.Min.X || r.Max.X > c.Max.X || r.Min.Y < c.Min.Y || r.Max.Y > c.Max.Y {
				continue
			}
			hits := 0
			grown := vg.Rectangle{Min: vg.Point{X: r.Min.X - 1, Y: r.Min.Y - 1}, Max: vg.Point{X: r.Max.X + 1, Y: r.Max.Y + 1}}
			for _, q := range l.placed {
				if overlaps(grown, q) {
					hits += 10 // text on text is the worst
				}
			}
			for _, s := range segs {
				if segmentHits(grown, s[0], s[1]) {
					hits++
				}
			}
			for _, d := range dots {
				if overlaps(grown, vg.Rectangle{Min: vg.Point{X: d.X - 4, Y: d.Y - 4}, Max: vg.Point{X: d.X + 4, Y: d.Y + 4}}) {
					hits += 2
				}
			}
			if hits < bestHits {
				best, bestHits = at, hits
			}
			if hits == 0 {
				break
			}
		}
		if bestHits == math.MaxInt {
			return best, false // no spot inside the data area
		}
		r := vg.Rectangle{Min: best, Max: vg.Point{X: best.X + size.X, Y: best.Y + size.Y}}
		l.placed = append(l.placed, r)
		if bestHits > 0 {
			// It crosses a line: a light backing keeps it legible.
			c.SetColor(color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xD8})
			c.Fill(r.Path())
		}
		return best, true
	}
	for _, m := range mergeMarkers(l.markers) {
		// Rotated to run up beside its line, right of it or left, at the
		// top of the data area or lower down.
		sty := labelStyle(m.color)
		w, h := sty.Width(m.text), sty.Height(m.text)
		x := trX(m.x)
		var cands []vg.Point // the rotated text's lower left corner
		for k := range 5 {   // from the top down
			y := c.Max.Y - 2 - w - vg.Length(k)*(c.Max.Y-c.Min.Y-4-w)/4
			cands = append(cands, vg.Point{X: x + 2, Y: y}, vg.Point{X: x - 2 - h, Y: y})
		}
		at, ok := place(w, h, true, cands)
		if !ok {
			continue
		}
		sty.Rotation = math.Pi / 2
		sty.XAlign, sty.YAlign = text.XLeft, text.YTop
		c.FillText(sty, vg.Point{X: at.X, Y: at.Y}, m.text)
	}
	for _, lb := range l.labels {
		sty := labelStyle(lb.color)
		size := sty.Rectangle(lb.text).Size()
		a := pt(lb.at)
		const gap = 5
		at, ok := place(size.X, size.Y, false, []vg.Point{
			{X: a.X + gap, Y: a.Y + 2},                   // right, above
			{X: a.X + gap, Y: a.Y - 2 - size.Y},          // right, below
			{X: a.X - gap - size.X, Y: a.Y + 2},          // left, above
			{X: a.X - gap - size.X, Y: a.Y - 2 - size.Y}, // left, below
			{X: a.X - size.X/2, Y: a.Y + gap + 1},        // above
			{X: a.X - size.X/2, Y: a.Y - gap - 1 - size.Y},
			{X: a.X + 2*gap, Y: a.Y + 2*gap},
			{X: a.X + 2*gap, Y: a.Y - 2*gap - size.Y},
			{X: a.X - 2*gap - size.X, Y: a.Y + 2*gap},
			{X: a.X - 2*gap - size.X, Y: a.Y - 2*gap - size.Y},
			{X: a.X + 3*gap, Y: a.Y - size.Y/2},
			{X: a.X - 3*gap - size.X, Y: a.Y - size.Y/2},
			{X: a.X - size.X/2, Y: a.Y + 3*gap},
			{X: a.X - size.X/2, Y: a.Y - 3*gap - size.Y},
		})
		if ok {
			c.FillText(sty, at, lb.text)
		}
	}
}

// mergeMarkers joins markers at the same x (two engines with the same
// capacity) into one, labelled with both engines, drawn in grey.
func mergeMarkers(ms []vMarker) []vMarker {
	var out []vMarker
	for _, m := range ms {
		i := slices.IndexFunc(out, func(o vMarker) bool { return o.x == m.x })
		if i < 0 {
			out = append(out, m)
			continue
		}
		out[i].engines = append(out[i].engines, m.engines...)
		out[i].color = color.Gray{0x40}
	}
	for i := range out {
		out[i].text = strings.Join(out[i].engines, ", ") + ": " + out[i].text
	}
	return out
}

func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

// segmentHits reports whether the segment p–q crosses r (Liang–Barsky
// clipping).
func segmentHits(r vg.Rectangle, p, q vg.Point) bool {
	t0, t1 := 0.0, 1.0
	dx, dy := float64(q.X-p.X), float64(q.Y-p.Y)
	for _, e := range [4][2]float64{
		{-dx, float64(p.X - r.Min.X)}, {dx, float64(r.Max.X - p.X)},
		{-dy, float64(p.Y - r.Min.Y)}, {dy, float64(r.Max.Y - p.Y)},
	} {
		pp, qq := e[0], e[1]
		if pp == 0 {
			if qq < 0 {
				return false
			}
			continue
		}
		t := qq / pp
		if pp < 0 {
			t0 = math.Max(t0, t)
		} else {
			t1 = math.Min(t1, t)
		}
		if t0 > t1 {
			return false
		}
	}
	return true
}

// hLine is a dashed horizontal line across the data area at y: an SLO
// bound.
type hLine struct {
	y     float64
	style draw.LineStyle
}

func newHLine(y float64) *hLine {
	return &hLine{y: y, style: draw.LineStyle{Color: color.Gray{0x30}, Width: vg.Points(1.5),
		Dashes: []vg.Length{vg.Points(8), vg.Points(4)}}}
}

// Plot implements plot.Plotter.
func (h *hLine) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.y)
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}

// DataRange implements plot.DataRanger: the bound is on the y axis.
func (h *hLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	return math.Inf(1), math.Inf(-1), h.y, h.y
}

// Thumbnail implements plot.Thumbnailer for the legend.
func (h *hLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(h.style, c.Min.X, y, c.Max.X, y)
}
