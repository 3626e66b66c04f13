package report

import (
	"image/color"
	"slices"
)

// okabeIto is a colour-blind-safe palette (Okabe & Ito), darkest first;
// engine i of a run gets okabeIto()[i mod 7].
func okabeIto() [7]color.RGBA {
	return [7]color.RGBA{
		{0x00, 0x72, 0xB2, 0xFF}, // blue
		{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
		{0x00, 0x9E, 0x73, 0xFF}, // bluish green
		{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
		{0xE6, 0x9F, 0x00, 0xFF}, // orange
		{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
		{0x33, 0x33, 0x33, 0xFF}, // near black
	}
}

// palette gives every engine of a run one colour, by its position in the
// run's engine order, so an engine looks the same in every chart.
type palette struct{ order []string }

func newPalette(engines []string) palette { return palette{order: slices.Clone(engines)} }

// add appends an engine the run's order did not list.
func (p *palette) add(engine string) {
	if !slices.Contains(p.order, engine) {
		p.order = append(p.order, engine)
	}
}

func (p palette) color(engine string) color.Color {
	i := slices.Index(p.order, engine)
	if i < 0 {
		return color.Gray{0x80}
	}
	c := okabeIto()
	return c[i%len(c)]
}
