package engines

import (
	"context"
	"fmt"
	"strconv"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
)

// Sim is the built-in simulated engine, served in-process on a loopback
// port.
type Sim struct {
	name string
	cfg  sim.Config
	l    *sim.Listening
}

// NewSim returns the simulated engine for a configuration entry.
func NewSim(e config.Engine) *Sim {
	cfg := sim.Config{Model: e.Model}
	if s := e.Sim; s != nil {
		cfg.MaxBatch, cfg.MaxPrefill, cfg.PrefixCacheTokens = s.MaxBatch, s.MaxPrefill, s.PrefixCacheTokens
		if s.Timing != (sim.Linear{}) {
			cfg.Timing = s.Timing
		}
	}
	return &Sim{name: e.Name, cfg: cfg}
}

// Name implements Engine.
func (s *Sim) Name() string { return s.name }

// Start implements Engine.
func (s *Sim) Start(ctx context.Context) (Endpoint, error) {
	if t, ok := s.cfg.Timing.(sim.Linear); ok {
		if err := t.Validate(); err != nil {
			return Endpoint{}, fmt.Errorf("engine %q: %w", s.name, err)
		}
	}
	// The server must outlive Start's context: it stops with Stop.
	l, err := sim.Listen(context.WithoutCancel(ctx), "127.0.0.1:0", s.cfg)
	if err != nil {
		return Endpoint{}, fmt.Errorf("engine %q: %w", s.name, err)
	}
	s.l = l
	info := []config.Line{{Key: "engine-" + s.name + "-kind", Value: "simulator"}, {Key: "engine-" + s.name + "-model", Value: s.cfg.Model}}
	if t, ok := s.cfg.Timing.(sim.Linear); ok {
		info = append(info, config.Line{Key: "engine-" + s.name + "-timing", Value: fmt.Sprintf("step %v + %v/seq + %v/prefill-token + %v/context-token",
			t.Base, t.PerSeq, t.PerPrefill, t.PerContext)})
	}
	if s.cfg.MaxBatch > 0 {
		info = append(info, config.Line{Key: "engine-" + s.name + "-max-batch", Value: strconv.Itoa(s.cfg.MaxBatch)})
	}
	if s.cfg.PrefixCacheTokens != 0 { // the default (on, 1<<20 tokens) goes unsaid, as README.md says it
		info = append(info, config.Line{Key: "engine-" + s.name + "-prefix-cache", Value: prefixCacheLine(s.cfg.PrefixCacheTokens)})
	}
	return Endpoint{BaseURL: l.URL, Model: s.cfg.Model, MetricsURL: l.URL + "/metrics",
		IgnoreEOS: true, IncludeUsage: true, Info: info}, nil
}

// prefixCacheLine describes the simulator's prefix cache for a
// configuration line: off, or its capacity in tokens.
func prefixCacheLine(tokens int) string {
	if tokens < 0 {
		return "off"
	}
	return fmt.Sprintf("%d tokens (blocks of %d, least recently used out)", tokens, sim.CacheBlockTokens)
}

// Stop implements Engine.
func (s *Sim) Stop(context.Context) error {
	if s.l != nil {
		s.l.Close()
		s.l = nil
	}
	return nil
}
