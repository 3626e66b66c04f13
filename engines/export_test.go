package engines

import (
	"context"
	"os"

	"github.com/infbench/infbench/gpumem"
)

// Test-only options, for the external test package.

// WithGetenv replaces os.Getenv for HF_TOKEN, HF_HOME and HOME.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithSignals replaces signal delivery: signals sent on sigs reach the
// guard, and raise receives the signal it re-raises.
func WithSignals(sigs <-chan os.Signal, raise func(os.Signal)) Option {
	return func(o *options) {
		stop := make(chan struct{})
		o.signals = signalHooks{
			notify: func(ch chan<- os.Signal) {
				go func() {
					select {
					case s := <-sigs:
						ch <- s
					case <-stop:
					}
				}()
			},
			stop:  func(chan<- os.Signal) {},
			raise: raise,
		}
	}
}

// WithGPUMemory replaces NVML with a GPU of this memory and name and an
// unknown driver version: a GPU spec with container.min_driver then fails
// the preflight (use WithGPU to give the driver).
func WithGPUMemory(f func(context.Context) (uint64, string, error)) Option {
	return func(o *options) { o.gpu = memoryOnly(f) }
}

// WithGPU replaces NVML with f's description of the GPU (memory, name,
// driver version).
func WithGPU(f func(context.Context) (gpumem.Info, error)) Option {
	return func(o *options) { o.gpu = f }
}

// WithSpecOverride lets a test change a container engine's resolved spec
// before anything checks or starts it: the Docker end-to-end test runs a
// real engine's spec from testdata/engines.yaml with a twin image in place
// of the engine's and without the GPU request (so without the NVIDIA
// runtime and GPU requirements), everything else unchanged.
func WithSpecOverride(f func(*Spec)) Option { return func(o *options) { o.override = f } }
