package servermetrics

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ErrNoKnownMetrics is wrapped by Parse when the text carries none of
// the names of Names.
var ErrNoKnownMetrics = errors.New("none of the metrics infbench maps")

// Value is one quantity in one scrape: its value, summed over the
// family's series (an engine with several data-parallel ranks labels one
// series per rank) except for usage and rates, which take the largest.
type Value struct {
	V      float64
	Metric string // the engine's name it was read from
	Engine string
}

// Snapshot is one scrape: the quantities it carried.
type Snapshot map[Quantity]Value

// Parse reads the Prometheus text format (version 0.0.4) and picks out
// the quantities of Names. A text that parses but carries none of them
// is an error wrapping ErrNoKnownMetrics that lists some of the families
// it does carry.
func Parse(r io.Reader) (Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing Prometheus text: %w", err)
	}
	snap := Snapshot{}
	for _, n := range Names() {
		if _, done := snap[n.Quantity]; done {
			continue
		}
		f, ok := fams[n.Metric]
		if !ok {
			continue
		}
		v, ok := familyValue(f, n.Quantity)
		if !ok {
			continue
		}
		snap[n.Quantity] = Value{V: v, Metric: n.Metric, Engine: n.Engine}
	}
	if len(snap) == 0 {
		names := make([]string, 0, len(fams))
		for k := range fams {
			names = append(names, k)
		}
		slices.Sort(names)
		if len(names) > 8 {
			names = append(names[:8], fmt.Sprintf("… %d more", len(names)-8))
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: the text has no metric at all", ErrNoKnownMetrics)
		}
		return nil, fmt.Errorf("%w (it has %s): a TensorRT-LLM or other engine's names are not in servermetrics.Names", ErrNoKnownMetrics, strings.Join(names, ", "))
	}
	return snap, nil
}

// familyValue aggregates a family's series: the sum, or for a usage or
// rate the largest. A family of a type other than gauge, counter or
// untyped (a histogram under a name of Names) is not read.
func familyValue(f *dto.MetricFamily, q Quantity) (float64, bool) {
	var vs []float64
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_GAUGE:
			vs = append(vs, m.GetGauge().GetValue())
		case dto.MetricType_COUNTER:
			vs = append(vs, m.GetCounter().GetValue())
		case dto.MetricType_UNTYPED:
			vs = append(vs, m.GetUntyped().GetValue())
		default:
			return 0, false
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	switch q {
	case KVUsage, PrefixHitRate, MaxBatch:
		return slices.Max(vs), true
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	return sum, true
}
