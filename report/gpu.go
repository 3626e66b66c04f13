package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// GPU telemetry files: gpu-<engine>.jsonl in the results folder, one JSON
// sample per line, written by the gpumem package while the engine runs.
const gpuPrefix, gpuSuffix = "gpu-", ".jsonl"

// gpuSample is one telemetry line. Field names follow gpumem.Sample
// (offset_ns, time, used_B, power_W) and the short form t_s,
// mem_used_bytes, power_w; encoding/json matches power_W and power_w
// alike.
type gpuSample struct {
	TS       *float64   `json:"t_s"`       // seconds since the run started
	Time     *time.Time `json:"time"`      // wall clock (gpumem)
	OffsetNS *int64     `json:"offset_ns"` // since its sampler started (gpumem)

	MemUsedBytes *float64 `json:"mem_used_bytes"`
	UsedB        *float64 `json:"used_B"`
	PowerW       *float64 `json:"power_w"`
}

// at returns the sample's time in seconds since start: t_s, else the wall
// clock against start, else offset_ns.
func (s gpuSample) at(start time.Time) (float64, bool) {
	switch {
	case s.TS != nil:
		return *s.TS, true
	case s.Time != nil && !start.IsZero():
		return s.Time.Sub(start).Seconds(), true
	case s.OffsetNS != nil:
		return float64(*s.OffsetNS) / 1e9, true
	}
	return 0, false
}

func (s gpuSample) mem() *float64 {
	if s.MemUsedBytes != nil {
		return s.MemUsedBytes
	}
	return s.UsedB
}

// telemetry is one engine's samples: memory (GiB) and power (W) over time.
type telemetry struct {
	engine     string
	mem, power plotter.XYs
}

// readTelemetry reads every gpu-<engine>.jsonl in dir, in palette order.
// A cut-short last line is ignored; a bad line elsewhere is an error.
func readTelemetry(dir string, start time.Time, pal *palette) ([]telemetry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, gpuPrefix+"*"+gpuSuffix))
	if err != nil {
		return nil, err
	}
	var out []telemetry
	for _, path := range paths {
		t := telemetry{engine: strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), gpuPrefix), gpuSuffix)}
		if err := readSamples(path, func(s gpuSample) {
			x, ok := s.at(start)
			if !ok {
				return
			}
			if m := s.mem(); m != nil {
				t.mem = append(t.mem, plotter.XY{X: x, Y: *m / (1 << 30)})
			}
			if s.PowerW != nil {
				t.power = append(t.power, plotter.XY{X: x, Y: *s.PowerW})
			}
		}); err != nil {
			return nil, err
		}
		pal.add(t.engine)
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b telemetry) int {
		return slices.Index(pal.order, a.engine) - slices.Index(pal.order, b.engine)
	})
	return out, nil
}

func readSamples(path string, f func(gpuSample)) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading GPU telemetry: %w", err)
	}
	defer file.Close()
	br := bufio.NewReader(file)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		last := errors.Is(err, io.EOF)
		if t := bytes.TrimSpace(line); len(t) > 0 {
			var s gpuSample
			if jerr := json.Unmarshal(t, &s); jerr != nil {
				if last && line[len(line)-1] != '\n' {
					return nil // cut short by a killed run
				}
				return fmt.Errorf("%s:%d: %w (want one JSON sample per line with t_s or offset_ns, used_B or mem_used_bytes, power_W)", path, n, jerr)
			}
			f(s)
		}
		if last {
			return nil
		}
	}
}

// gpuCharts renders GPU memory and power over time, one line per engine,
// where telemetry has them.
func gpuCharts(dir string, tel []telemetry, pal palette) ([]chart, error) {
	var out []chart
	for _, k := range []struct {
		base, title, ylabel string
		get                 func(telemetry) plotter.XYs
	}{
		{"gpu-memory", "GPU memory in use", "memory used (GiB)", func(t telemetry) plotter.XYs { return t.mem }},
		{"gpu-power", "GPU power draw", "power (W)", func(t telemetry) plotter.XYs { return t.power }},
	} {
		p := newPlot("", "time since the run started (s)", k.ylabel)
		any := false
		for _, t := range tel {
			xys := k.get(t)
			any = any || len(xys) > 0
			if err := addLine(p, t.engine, pal, xys); err != nil {
				return out, err
			}
		}
		if !any {
			continue
		}
		fromZero(p)
		file, err := save(dir, k.base, k.title, p)
		if err != nil {
			return out, err
		}
		out = append(out, chart{File: file, Caption: k.title + " over time"})
	}
	return out, nil
}

// addLine draws a plain line (no markers: telemetry is dense).
func addLine(p *plot.Plot, name string, pal palette, xys plotter.XYs) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("GPU telemetry of %s: %w", name, err)
	}
	l.Color = pal.color(name)
	l.Width = 1.5
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}
