package engines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/infbench/infbench/config"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// terminateTimeout bounds stopping and removing a container.
const terminateTimeout = 60 * time.Second

// Container is an engine served from a container image through
// testcontainers-go: vLLM, SGLang, TensorRT-LLM, or the simulator image in
// tests. It is terminated by Stop, and also on SIGINT/SIGTERM and shortly
// before the test binary's -timeout, since Ryuk is disabled.
type Container struct {
	e    config.Engine
	spec Spec
	o    options

	mu           sync.Mutex
	ctr          *testcontainers.DockerContainer
	cancelStart  context.CancelFunc
	startDone    chan struct{}
	logs         *logSink
	logsDone     chan struct{}
	cancelFollow context.CancelFunc
	release      func()
}

func newContainer(e config.Engine, run *config.Run, o options) (*Container, error) {
	s, err := ResolveSpec(e, run)
	if err != nil {
		return nil, err
	}
	if s.GPU && !o.gpuBuild {
		return nil, fmt.Errorf("engine %q runs on a GPU: build with -tags=gpu (go test -tags=gpu -bench=.)", e.Name)
	}
	return &Container{e: e, spec: s, o: o}, nil
}

// Name implements Engine.
func (c *Container) Name() string { return c.e.Name }

// Spec returns the resolved container spec.
func (c *Container) Spec() Spec { return c.spec }

// Start implements Engine: preflight (fit, Docker, NVIDIA runtime, GPU,
// model), then pull, start, stream the log to a file and wait until the
// engine generates. On failure the container is gone and the error carries
// the log's last lines.
func (c *Container) Start(ctx context.Context) (ep Endpoint, err error) {
	s := c.spec
	quietTestcontainers() // before testcontainers.Run's first Docker client
	done := make(chan struct{})
	defer close(done)
	startCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	c.startDone, c.cancelStart = done, cancel
	c.mu.Unlock()
	defer func() {
		if err != nil {
			err = errors.New(redact(err.Error(), c.secrets()))
		}
	}()

	gpuBytes, gpuName, err := requirements(startCtx, s, c.o)
	if err != nil {
		return Endpoint{}, err
	}
	var info []Line
	if s.Fit != nil {
		in := *s.Fit
		in.GPUSource = "profile " + in.Profile
		if gpuBytes > 0 {
			in.GPUBytes, in.GPUSource = gpuBytes, "NVML "+gpuName
		}
		fit, ferr := CheckFit(in, c.o.workload)
		if ferr != nil {
			return Endpoint{}, fmt.Errorf("engine %q: %w", s.Name, ferr)
		}
		info = append(info, Line{Key: c.key("fit"), Value: fit.Summary()})
		if w := fit.Warning(); w != "" {
			fmt.Fprintf(os.Stderr, "[infbench] engine %s: warning: %s\n", s.Name, w)
			info = append(info, Line{Key: c.key("fit-warning"), Value: w})
		}
	}
	if s.HFCache {
		dir, herr := hfCacheDir(c.o.getenv)
		if herr != nil {
			return Endpoint{}, herr
		}
		if herr := ensureDir(dir); herr != nil {
			return Endpoint{}, herr
		}
	}
	n, warnings, lerr := removeLeftovers(startCtx, s.Name)
	for _, w := range warnings {
		fmt.Fprintf(c.o.stderr, "[infbench] engine %s: warning: %s\n", s.Name, w)
	}
	if lerr != nil {
		return Endpoint{}, fmt.Errorf("engine %q: %w", s.Name, lerr)
	}
	if n > 0 {
		fmt.Fprintf(c.o.stderr, "[infbench] engine %s: removed %d container(s) left by an earlier run\n", s.Name, n)
	}
	logs, err := c.openLog()
	if err != nil {
		return Endpoint{}, err
	}
	opts, err := containerOptions(s, c.o.getenv)
	if err != nil {
		return Endpoint{}, err
	}
	// testcontainers' own messages, and the whole container log it dumps
	// when the wait fails, go to the engine's log file (redacted), not to
	// stderr: under go test that is the results file benchstat reads.
	opts = append([]testcontainers.ContainerCustomizer{testcontainers.WithLogger(tcLogger{logs})}, opts...)
	opts = append(opts, testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
		PostCreates: []testcontainers.ContainerHook{func(_ context.Context, ctr testcontainers.Container) error {
			if d, ok := ctr.(*testcontainers.DockerContainer); ok {
				c.mu.Lock()
				c.ctr = d
				c.mu.Unlock()
			}
			return nil
		}},
		PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
			c.follow(ctx, ctr.GetContainerID(), logs)
			return nil
		}},
	}))
	c.mu.Lock()
	c.release = guard(c.o.signals, c.o.deadline, c.interrupt)
	c.mu.Unlock()

	fmt.Fprintf(os.Stderr, "[infbench] engine %s: starting %s (log: %s; start-up can take %v)\n", s.Name, s.Image, logs.path, s.Startup)
	began := time.Now()
	ctr, err := testcontainers.Run(startCtx, s.Image, opts...)
	if ctr != nil {
		c.mu.Lock()
		c.ctr = ctr
		c.mu.Unlock()
	}
	if err != nil {
		took := time.Since(began)
		c.terminate() // first, so that the log holds the container's last words
		return Endpoint{}, c.startError(ctx, startCtx, err, took, logs)
	}
	ep, err = c.endpoint(startCtx, ctr)
	if err != nil {
		c.terminate()
		return Endpoint{}, err
	}
	ep.Info = append(ep.Info, info...)
	fmt.Fprintf(os.Stderr, "[infbench] engine %s: ready at %s after %s\n", s.Name, ep.BaseURL, time.Since(began).Round(time.Second))
	return ep, nil
}

// startError explains a failed start: why, for how long, and the log tail.
func (c *Container) startError(parent, startCtx context.Context, err error, took time.Duration, logs *logSink) error {
	s := c.spec
	why := "failed"
	switch {
	case parent.Err() != nil && errors.Is(parent.Err(), context.DeadlineExceeded):
		why = "was not ready before the start-up timeout (timeouts.startup in engines.yaml)"
	case parent.Err() != nil || startCtx.Err() != nil:
		why = "was interrupted"
	case strings.Contains(err.Error(), "deadline exceeded"):
		why = fmt.Sprintf("was not ready within container.startup (%v)", s.Startup)
	}
	var tail string
	if logs != nil {
		if lines := logs.Tail(); len(lines) > 0 {
			tail = fmt.Sprintf("\nlast %d lines of %s:\n\t%s", len(lines), logs.path, strings.Join(lines, "\n\t"))
		} else {
			tail = fmt.Sprintf("\n(%s is empty)", logs.path)
		}
	}
	return fmt.Errorf("engine %q (%s) %s after %s, probing %s %s on port %d: %w%s",
		s.Name, s.Image, why, took.Round(time.Second), s.Ready.Method, s.Ready.Path, s.Port, err, tail)
}

// Stop implements Engine: it terminates the container and closes the log.
func (c *Container) Stop(context.Context) error {
	c.mu.Lock()
	release := c.release
	c.release = nil
	c.mu.Unlock()
	if release != nil {
		release()
	}
	return c.terminate()
}

// interrupt is the guard's cleanup: stop a start in progress and
// terminate the container.
func (c *Container) interrupt(why string) {
	// Terminate first, report after: stderr may be a broken pipe by now.
	defer fmt.Fprintf(os.Stderr, "[infbench] engine %s: %s: terminated its container\n", c.spec.Name, why)
	c.mu.Lock()
	cancel, done := c.cancelStart, c.startDone
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if done != nil {
		// Start terminates what it started; wait for it, but not forever.
		select {
		case <-done:
		case <-time.After(terminateTimeout):
		}
	}
	_ = c.terminate()
}

// terminate stops and removes the container, if any, and closes the log.
// It is safe to call more than once and concurrently.
func (c *Container) terminate() error {
	c.mu.Lock()
	ctr, logs, logsDone, cancelFollow := c.ctr, c.logs, c.logsDone, c.cancelFollow
	c.ctr, c.logs, c.logsDone, c.cancelFollow = nil, nil, nil, nil
	c.mu.Unlock()
	var err error
	if ctr != nil {
		ctx, cancel := context.WithTimeout(context.Background(), terminateTimeout)
		defer cancel()
		if terr := ctr.Terminate(ctx, testcontainers.StopTimeout(10*time.Second)); terr != nil {
			err = fmt.Errorf("engine %q: terminating container %.12s: %w (remove it with: docker rm -f %.12s)",
				c.spec.Name, ctr.GetContainerID(), terr, ctr.GetContainerID())
		}
	}
	if cancelFollow != nil {
		if logsDone != nil {
			select { // the stream ends with the container
			case <-logsDone:
			case <-time.After(5 * time.Second):
			}
		}
		cancelFollow()
	}
	if logs != nil {
		_ = logs.Close()
	}
	return err
}

// openLog creates the log file in the log directory (default: the
// system's temporary directory, announced on stderr).
func (c *Container) openLog() (*logSink, error) {
	dir := c.o.logDir
	if dir == "" {
		dir = os.TempDir()
		fmt.Fprintf(os.Stderr, "[infbench] engine %s: no results folder given: container log goes to %s\n", c.spec.Name, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("engine %q: creating the log directory: %w", c.spec.Name, err)
	}
	logs, err := newLogSink(filepath.Join(dir, "engine-"+c.spec.Name+".log"), c.secrets())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.logs = logs
	c.mu.Unlock()
	return logs, nil
}

// follow streams the container's stdout and stderr into logs until the
// container stops or terminate cancels it.
func (c *Container) follow(ctx context.Context, id string, logs *logSink) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	c.mu.Lock()
	c.cancelFollow, c.logsDone = cancel, done
	c.mu.Unlock()
	go func() {
		defer close(done)
		cli, err := newDockerClient(fctx)
		if err != nil {
			fmt.Fprintf(logs, "[infbench] cannot follow the container log: %v\n", err)
			return
		}
		defer cli.Close()
		rc, err := cli.ContainerLogs(fctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
		if err != nil {
			fmt.Fprintf(logs, "[infbench] cannot follow the container log: %v\n", err)
			return
		}
		defer rc.Close()
		_, _ = stdcopy.StdCopy(logs, logs, rc)
	}()
}

// secrets are the values of the passed-through variables.
func (c *Container) secrets() []string {
	var out []string
	for _, k := range c.spec.PassEnv {
		if v := c.o.getenv(k); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (c *Container) key(k string) string { return "engine-" + c.spec.Name + "-" + k }

// portString is the container port as testcontainers names it.
func (s Spec) portString() string { return strconv.Itoa(s.Port) + "/tcp" }

// tcLogger writes testcontainers' log messages into the engine's log file.
type tcLogger struct{ w io.Writer }

func (l tcLogger) Printf(format string, v ...any) {
	fmt.Fprintf(l.w, "[testcontainers] "+strings.TrimRight(format, "\n")+"\n", v...)
}
