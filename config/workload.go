package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Workload kinds (workloads[].kind in engines.yaml); see README.md,
// "Workloads".
const (
	WorkloadDataset      = "dataset"       // prompts from a file: ShareGPT JSON or JSONL
	WorkloadSynthetic    = "synthetic"     // input and output lengths from distributions
	WorkloadSharedPrefix = "shared_prefix" // groups sharing a prefix: prefix caches hit within a group
	WorkloadMultiTurn    = "multi_turn"    // sessions of turns quoting the model's answers
)

// Dataset formats.
const (
	FormatShareGPT = "sharegpt"
	FormatJSONL    = "jsonl"
)

// WorkloadSpec is one entry of workloads: in engines.yaml. It becomes
// workload=<name> in benchmark names. Which fields apply depends on Kind.
type WorkloadSpec struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`

	// dataset: Path (relative to engines.yaml's folder) in Format; the
	// entries whose estimated input tokens lie in [MinInputTokens,
	// MaxInputTokens] and output tokens at most MaxOutputTokens (0: no
	// bound), of which Sample (0: all) are drawn with the run's seed.
	// The output length is the dataset's unless MaxTokens fixes it.
	Path            string `yaml:"path"`
	Format          string `yaml:"format"`
	Sample          int    `yaml:"sample"`
	MinInputTokens  int    `yaml:"min_input_tokens"`
	MaxInputTokens  int    `yaml:"max_input_tokens"`
	MaxOutputTokens int    `yaml:"max_output_tokens"`
	MaxTokens       int    `yaml:"max_tokens"`

	// synthetic and multi_turn (per turn): lengths in tokens; also
	// shared_prefix's OutputTokens.
	InputTokens  Dist `yaml:"input_tokens"`
	OutputTokens Dist `yaml:"output_tokens"`

	// shared_prefix: Groups groups, each request PrefixTokens of its
	// group's prefix then SuffixTokens of its own.
	Groups       int `yaml:"groups"`
	PrefixTokens int `yaml:"prefix_tokens"`
	SuffixTokens int `yaml:"suffix_tokens"`

	// multi_turn: sessions of Turns turns, ThinkTime between an answer
	// and the next turn.
	Turns     int           `yaml:"turns"`
	ThinkTime time.Duration `yaml:"think_time"`
}

// Dist is a distribution of token lengths, drawn with the run's seed. In
// engines.yaml it is a number (fixed) or a mapping with dist: fixed
// (value), uniform (min, max, inclusive), normal (mean, std) or lognormal
// (mean, std: of the lengths themselves, not of their logarithm). Every
// draw is rounded and clamped to at least 1.
type Dist struct {
	Dist  string  `yaml:"dist"`
	Value int     `yaml:"value"`
	Min   int     `yaml:"min"`
	Max   int     `yaml:"max"`
	Mean  float64 `yaml:"mean"`
	Std   float64 `yaml:"std"`
}

// Distribution names.
const (
	DistFixed     = "fixed"
	DistUniform   = "uniform"
	DistNormal    = "normal"
	DistLognormal = "lognormal"
)

var distFields = map[string][]string{
	DistFixed:     {"value"},
	DistUniform:   {"min", "max"},
	DistNormal:    {"mean", "std"},
	DistLognormal: {"mean", "std"},
}

// UnmarshalYAML reads a number as a fixed length, or a mapping whose
// fields must be those of its dist.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var v int
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: want a number of tokens or {dist: fixed|uniform|normal|lognormal, ...}, got %q", n.Line, n.Value)
		}
		*d = Dist{Dist: DistFixed, Value: v}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a number of tokens or {dist: fixed|uniform|normal|lognormal, ...}", n.Line)
	}
	var kind string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "dist" {
			kind = n.Content[i+1].Value
		}
	}
	fields, ok := distFields[kind]
	if !ok {
		return fmt.Errorf("line %d: dist %q: use fixed, uniform, normal or lognormal", n.Line, kind)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k != "dist" && !slices.Contains(fields, k) {
			return fmt.Errorf("line %d: unknown field %q for dist %s (known: %s)", n.Content[i].Line, k, kind, strings.Join(fields, ", "))
		}
	}
	type plain Dist
	var p plain
	if err := n.Decode(&p); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Dist(p)
	return nil
}

// IsZero reports a Dist that was not given.
func (d Dist) IsZero() bool { return d == Dist{} }

// Validate checks that the distribution can be drawn from.
func (d Dist) Validate() error {
	switch d.Dist {
	case DistFixed:
		if d.Value < 1 {
			return fmt.Errorf("fixed value %d: want at least 1 token", d.Value)
		}
	case DistUniform:
		if d.Min < 1 || d.Max < d.Min {
			return fmt.Errorf("uniform min %d, max %d: want 1 ≤ min ≤ max", d.Min, d.Max)
		}
	case DistNormal, DistLognormal:
		if !(d.Mean >= 1) || !(d.Std >= 0) || math.IsInf(d.Mean, 0) || math.IsInf(d.Std, 0) {
			return fmt.Errorf("%s mean %g, std %g: want mean ≥ 1 and std ≥ 0 tokens", d.Dist, d.Mean, d.Std)
		}
	default:
		return fmt.Errorf("dist %q: use fixed, uniform, normal or lognormal", d.Dist)
	}
	return nil
}

// Upper is a length the distribution rarely exceeds, for the fit check:
// the maximum of fixed and uniform, mean + 4 std for normal, and the
// 99.99th percentile of the lognormal.
func (d Dist) Upper() int {
	switch d.Dist {
	case DistFixed:
		return d.Value
	case DistUniform:
		return d.Max
	case DistNormal:
		return int(math.Ceil(d.Mean + 4*d.Std))
	case DistLognormal:
		mu, sigma := d.LogParams()
		return int(math.Ceil(math.Exp(mu + 3.72*sigma)))
	}
	return 0
}

// LogParams converts a lognormal's mean and std (of the lengths) to the
// mu and sigma of their logarithm: sigma² = ln(1 + std²/mean²),
// mu = ln(mean) − sigma²/2.
func (d Dist) LogParams() (mu, sigma float64) {
	s2 := math.Log1p(d.Std * d.Std / (d.Mean * d.Mean))
	return math.Log(d.Mean) - s2/2, math.Sqrt(s2)
}

// String describes the distribution for a configuration line.
func (d Dist) String() string {
	switch d.Dist {
	case DistFixed:
		return fmt.Sprintf("fixed %d", d.Value)
	case DistUniform:
		return fmt.Sprintf("uniform %d..%d", d.Min, d.Max)
	}
	return fmt.Sprintf("%s mean %g std %g", d.Dist, d.Mean, d.Std)
}

// validateWorkloads checks the workloads: entries.
func (r *Run) validateWorkloads() error {
	seen := map[string]bool{}
	for i, w := range r.Workloads {
		if !validName(w.Name) {
			return fmt.Errorf("workloads[%d]: name %q: use lower-case letters, digits, '.', '_' and '-' (it becomes workload=%s in benchmark names)", i, w.Name, w.Name)
		}
		if seen[w.Name] {
			return fmt.Errorf("workloads[%d]: duplicate name %q", i, w.Name)
		}
		seen[w.Name] = true
		if err := w.Validate(); err != nil {
			return fmt.Errorf("workloads[%d] (%s): %w", i, w.Name, err)
		}
	}
	return nil
}

// Validate checks the fields of the entry's kind.
func (w WorkloadSpec) Validate() error {
	dist := func(field string, d Dist) error {
		if d.IsZero() {
			return fmt.Errorf("%s: required for kind %s (a number, or {dist: uniform, min: 100, max: 400})", field, w.Kind)
		}
		if err := d.Validate(); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		return nil
	}
	positive := func(fields map[string]int) error {
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range fields {
				if !yield(k) {
					return
				}
			}
		}) {
			if fields[k] < 1 {
				return fmt.Errorf("%s: %d: required for kind %s, at least 1", k, fields[k], w.Kind)
			}
		}
		return nil
	}
	if err := w.foreignField(); err != nil {
		return err
	}
	switch w.Kind {
	case WorkloadDataset:
		if w.Path == "" {
			return fmt.Errorf("path: required for kind dataset (relative to engines.yaml's folder)")
		}
		if w.Format != FormatShareGPT && w.Format != FormatJSONL {
			return fmt.Errorf("format: %q: use sharegpt or jsonl", w.Format)
		}
		if w.Sample < 0 || w.MinInputTokens < 0 || w.MaxInputTokens < 0 || w.MaxOutputTokens < 0 || w.MaxTokens < 0 {
			return fmt.Errorf("sample, min_input_tokens, max_input_tokens, max_output_tokens and max_tokens must not be negative")
		}
		if w.MaxInputTokens > 0 && w.MaxInputTokens < w.MinInputTokens {
			return fmt.Errorf("max_input_tokens %d is below min_input_tokens %d", w.MaxInputTokens, w.MinInputTokens)
		}
		return nil
	case WorkloadSynthetic:
		if err := dist("input_tokens", w.InputTokens); err != nil {
			return err
		}
		return dist("output_tokens", w.OutputTokens)
	case WorkloadSharedPrefix:
		if err := positive(map[string]int{"groups": w.Groups, "prefix_tokens": w.PrefixTokens, "suffix_tokens": w.SuffixTokens}); err != nil {
			return err
		}
		return dist("output_tokens", w.OutputTokens)
	case WorkloadMultiTurn:
		if err := positive(map[string]int{"turns": w.Turns}); err != nil {
			return err
		}
		if w.ThinkTime < 0 {
			return fmt.Errorf("think_time: %v: must not be negative", w.ThinkTime)
		}
		if err := dist("input_tokens", w.InputTokens); err != nil {
			return err
		}
		return dist("output_tokens", w.OutputTokens)
	}
	return fmt.Errorf("kind %q: use dataset, synthetic, shared_prefix or multi_turn", w.Kind)
}

// Workload returns the workloads: entry named name.
func (r *Run) Workload(name string) (WorkloadSpec, bool) {
	for _, w := range r.Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return WorkloadSpec{}, false
}
