package sim

import (
	"fmt"
	"time"
)

// Step describes one forward pass of the simulated engine.
type Step struct {
	Decode  int // sequences producing their next token
	Prefill int // prompt tokens processed in this step
	Context int // tokens held in the KV cache by the running sequences
}

// Timing says how long a step takes. It is the whole performance model of
// the simulator: the scheduler around it is the same whatever the model.
type Timing interface {
	StepTime(Step) time.Duration
}

// Linear is a step time linear in the work: a fixed cost per step (weights
// read once per step, kernel launches), a cost per decoding sequence, per
// prompt token prefilled and per context token attended to. Decode steps
// are then memory-bound at small batch and grow with batch size, and
// prefill is compute-bound in the prompt length, which is enough to make
// TTFT grow with concurrency and throughput saturate.
type Linear struct {
	Base       time.Duration `yaml:"step_base"`
	PerSeq     time.Duration `yaml:"per_sequence"`
	PerPrefill time.Duration `yaml:"per_prefill_token"`
	PerContext time.Duration `yaml:"per_context_token"`
}

// StepTime implements Timing.
func (l Linear) StepTime(s Step) time.Duration {
	return l.Base + time.Duration(s.Decode)*l.PerSeq +
		time.Duration(s.Prefill)*l.PerPrefill + time.Duration(s.Context)*l.PerContext
}

// Validate rejects negative costs and a model where a step costs nothing.
// Errors name the cost by its engines.yaml key.
func (l Linear) Validate() error {
	for _, c := range []struct {
		key string
		d   time.Duration
	}{{"step_base", l.Base}, {"per_sequence", l.PerSeq}, {"per_prefill_token", l.PerPrefill}, {"per_context_token", l.PerContext}} {
		if c.d < 0 {
			return fmt.Errorf("sim timing: %s %v: a cost must not be negative (give 0 or a positive duration)", c.key, c.d)
		}
	}
	if l.Base == 0 && l.PerSeq == 0 {
		return fmt.Errorf("sim timing: step_base or per_sequence must be positive, or decoding takes no time")
	}
	return nil
}

// DefaultTiming is a fast model for tests and the default benchmark matrix:
// about 4 ms per decode step at batch 1 rising to 9 ms at batch 100, and
// 10 µs per prefilled prompt token. It is shaped like a GPU, not calibrated
// to one.
func DefaultTiming() Linear {
	return Linear{
		Base:       4 * time.Millisecond,
		PerSeq:     50 * time.Microsecond,
		PerPrefill: 10 * time.Microsecond,
		PerContext: 0,
	}
}
