package engines

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/infbench/infbench/gpumem"
)

// Option configures New. Most options concern container engines; the
// simulator ignores them all.
type Option func(*options)

type options struct {
	apiKey   string
	logDir   string
	deadline time.Time
	workload Workload
	getenv   func(string) string
	// gpu describes the GPU (NVML): its total memory, name and driver
	// version. An error means no GPU: the preflight fails.
	gpu func(ctx context.Context) (gpumem.Info, error)
	// docker checks the Docker engine: whether it answers and which
	// runtimes it has.
	docker   func(ctx context.Context) (DockerInfo, error)
	signals  signalHooks
	gpuBuild bool
	notices  io.Writer // where "[infbench] ..." notices go
	// override changes a container engine's resolved spec before
	// anything checks or starts it; nil outside tests (export_test.go's
	// WithSpecOverride: a twin image in place of a GPU engine's).
	override func(*Spec)
}

// notef writes one "[infbench] <message>" line to the notices writer.
func (o options) notef(format string, args ...any) {
	fmt.Fprintf(o.notices, "[infbench] "+format+"\n", args...)
}

// Workload is what the benchmark will ask of an engine, for the fit check.
type Workload struct {
	Concurrency  int // the highest concurrency level
	TokensPerSeq int // the longest prompt plus its output, in tokens
}

// WithAPIKey authenticates requests to an external engine with
// "Authorization: Bearer key" (a vLLM --api-key, a gateway's token). The
// key is never printed.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithLogDir writes container logs to dir/engine-<name>.log (default: the
// system's temporary directory, announced in a notice).
func WithLogDir(dir string) Option { return func(o *options) { o.logDir = dir } }

// WithDeadline terminates a container shortly before t, when the test
// binary's -timeout would kill the process without running any cleanup.
// The zero time is no deadline.
func WithDeadline(t time.Time) Option { return func(o *options) { o.deadline = t } }

// WithWorkload gives the concurrency and sequence length the benchmark will
// use, so that the fit check can say whether the KV cache holds them.
func WithWorkload(w Workload) Option { return func(o *options) { o.workload = w } }

// WithNotices sends the "[infbench] ..." notices (starting, ready, skipped,
// warnings, leftovers removed, interrupted) to w instead of os.Stderr. Under
// go test stdout is the benchmark output benchstat reads, so w should not
// be os.Stdout there.
func WithNotices(w io.Writer) Option { return func(o *options) { o.notices = w } }

func defaultOptions(opts []Option) options {
	o := options{getenv: os.Getenv, gpu: nvmlGPU, docker: dockerInfo,
		signals: defaultSignalHooks(), gpuBuild: GPUBuild, notices: os.Stderr}
	for _, f := range opts {
		f(&o)
	}
	return o
}
