// Package engines brings serving engines up and down and says how to talk
// to them. An Engine starts a server, waits until it can generate, hands
// back an Endpoint and stops it. Implementations: the built-in simulator
// (engines/sim, in-process on loopback), an external server already
// running (INFBENCH_TARGET), and, with the build tag gpu, vLLM, SGLang and
// TensorRT-LLM containers. Engines know nothing of statistics: they produce
// endpoints, loadgen measures them.
package engines

import (
	"context"
	"errors"
	"fmt"

	"github.com/infbench/infbench/config"
)

// Endpoint is a running engine as a client sees it.
type Endpoint struct {
	BaseURL    string // http://host:port, without /v1
	Model      string // served model name, as requests must give it
	MetricsURL string // Prometheus metrics, or ""
	// Fields the engine accepts; a field it does not accept is never sent
	// (TensorRT-LLM answers HTTP 400 to unknown fields).
	IgnoreEOS       bool
	IncludeUsage    bool
	ContinuousUsage bool
	Extra           map[string]any
	// Headers go with every request (an API key). Never printed.
	Headers map[string]string
	// Info is what produced the results, as benchfmt configuration lines:
	// lower-case keys such as "engine-vllm-image".
	Info []config.Line
}

// Engine is a serving engine the benchmark can bring up.
type Engine interface {
	Name() string
	// Start brings the engine up and returns once it can generate, or
	// fails; ctx bounds the wait.
	Start(ctx context.Context) (Endpoint, error)
	// Stop brings it down and releases everything Start took. It is safe
	// to call after a failed Start and more than once.
	Stop(ctx context.Context) error
}

// New returns the engine for a configuration entry. Container engines
// are built in every build, but one that requests a GPU needs the gpu
// build tag. An engine whose profile cannot run it (TensorRT-LLM with
// Scout on one H100) fails with an error wrapping ErrSkip (a *SkipError),
// and says so in a notice (stderr unless WithNotices): "[infbench] engine
// trtllm skipped: profile h100: <reason>", since go test shows a
// benchmark's skip only with -v.
func New(e config.Engine, run *config.Run, opts ...Option) (Engine, error) {
	switch e.Kind {
	case config.KindSim:
		return NewSim(e), nil
	case config.KindExternal:
		return NewExternal(e, run.Timeouts.Startup, defaultOptions(opts).apiKey), nil
	case config.KindContainer:
		o := defaultOptions(opts)
		c, err := newContainer(e, run, o)
		if errors.Is(err, ErrSkip) {
			o.notef("%v", err)
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("engine %q: unknown kind %q (use sim, external or container)", e.Name, e.Kind)
}
