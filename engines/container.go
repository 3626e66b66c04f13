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

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
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
	cancelStart  context.CancelCauseFunc
	startDone    chan struct{}
	release      func()  // the guard's
	interrupting bool    // the guard is running interrupt
	held         holding // what terminate releases
}

// holding is what a started container holds until terminate releases it.
type holding struct {
	ctr          *testcontainers.DockerContainer
	logs         *logSink
	logsDone     chan struct{} // closed when the log stream ends
	cancelFollow context.CancelFunc
}

func newContainer(e config.Engine, run *config.Run, o options) (*Container, error) {
	s, err := ResolveSpec(e, run)
	if err != nil {
		return nil, err
	}
	if o.override != nil {
		o.override(&s)
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

// Start implements Engine: preflight (requirements, fit, Hugging Face
// cache, leftovers), then launch (pull, start, stream the log to a file,
// wait until the engine generates). On failure the container is gone and
// the error carries the log's last lines. Errors never show a secret
// (a passed-through variable's value) but keep their causes: errors.Is and
// errors.As see through the redaction (context.Canceled,
// context.DeadlineExceeded, Docker's errors).
func (c *Container) Start(ctx context.Context) (Endpoint, error) {
	quietTestcontainers() // before testcontainers.Run's first Docker client
	startCtx, end := c.beginStart(ctx)
	defer end()
	info, err := c.preflight(startCtx)
	if err != nil {
		return Endpoint{}, redactError(err, c.secrets())
	}
	ep, err := c.launch(ctx, startCtx)
	if err != nil {
		return Endpoint{}, redactError(err, c.secrets())
	}
	ep.Info = append(ep.Info, info...)
	return ep, nil
}

// beginStart derives the start's own context, which interrupt cancels
// with the reason, and records it; end cancels it and marks the start
// finished, for interrupt to wait on.
func (c *Container) beginStart(ctx context.Context) (startCtx context.Context, end func()) {
	startCtx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	c.mu.Lock()
	c.startDone, c.cancelStart = done, cancel
	c.mu.Unlock()
	return startCtx, func() {
		cancel(nil)
		close(done)
	}
}

// preflight checks, before anything is pulled or started, that the
// engine can run here: its requirements (Docker, NVIDIA runtime, GPU,
// model), the model's fit on the GPU, the Hugging Face cache folder, and
// no container left by an earlier run. It returns the fit's
// configuration lines.
func (c *Container) preflight(ctx context.Context) ([]config.Line, error) {
	gpuBytes, gpuName, err := requirements(ctx, c.spec, c.o)
	if err != nil {
		return nil, err
	}
	info, err := c.checkFit(gpuBytes, gpuName)
	if err != nil {
		return nil, err
	}
	if err := c.prepareHFCache(); err != nil {
		return nil, err
	}
	if err := c.clearLeftovers(ctx); err != nil {
		return nil, err
	}
	return info, nil
}

// checkFit runs the fit check with the GPU memory NVML reported (0: the
// profile's), warns when the workload will queue, and returns the fit's
// configuration lines.
func (c *Container) checkFit(gpuBytes uint64, gpuName string) ([]config.Line, error) {
	if c.spec.Fit == nil {
		return nil, nil
	}
	in := *c.spec.Fit
	in.GPUSource = "profile " + in.Profile
	if gpuBytes > 0 {
		in.GPUBytes, in.GPUSource = gpuBytes, "NVML "+gpuName
	}
	fit, err := CheckFit(in, c.o.workload)
	if err != nil {
		return nil, fmt.Errorf("engine %q: %w", c.spec.Name, err)
	}
	info := []config.Line{{Key: c.key("fit"), Value: fit.Summary()}}
	if w := fit.Warning(); w != "" {
		c.notef("warning: %s", w)
		info = append(info, config.Line{Key: c.key("fit-warning"), Value: w})
	}
	return info, nil
}

// prepareHFCache creates the host's Hugging Face cache folder, if the
// engine mounts it, so that Docker does not create it owned by root.
func (c *Container) prepareHFCache() error {
	if !c.spec.HFCache {
		return nil
	}
	dir, err := hfCacheDir(c.o.getenv)
	if err == nil {
		err = ensureDir(dir)
	}
	if err != nil {
		return fmt.Errorf("engine %q: %w", c.spec.Name, err)
	}
	return nil
}

// clearLeftovers removes containers of this engine that a killed run left
// behind, and warns about those another run may still be using.
func (c *Container) clearLeftovers(ctx context.Context) error {
	n, warnings, err := removeLeftovers(ctx, c.spec.Name)
	for _, w := range warnings {
		c.notef("warning: %s", w)
	}
	if err != nil {
		return fmt.Errorf("engine %q: %w", c.spec.Name, err)
	}
	if n > 0 {
		c.notef("removed %d container(s) left by an earlier run", n)
	}
	return nil
}

// launch starts the container and waits until it generates: it opens the
// log file, arms the signal and deadline guard, runs the container with
// this start's hooks, polls its readiness (ready.go; container.startup
// counts from here) and returns the endpoint. parent is Start's context,
// ctx the start's own (which the guard cancels). On failure the container
// is gone.
func (c *Container) launch(parent, ctx context.Context) (Endpoint, error) {
	s := c.spec
	logs, err := c.openLog()
	if err != nil {
		return Endpoint{}, err
	}
	opts, err := c.runOptions(logs)
	if err != nil {
		return Endpoint{}, err
	}
	c.armGuard()
	c.notef("starting %s (log: %s; start-up can take %v)", s.Image, logs.path, s.Startup)
	began := time.Now()
	rctx, cancel := context.WithDeadline(ctx, began.Add(s.Startup))
	ctr, err := c.run(rctx, opts)
	cancel()
	if err == nil {
		_, err = c.newPoller(began).wait(ctx, containerTarget{ctr: ctr, port: s.portString()})
	}
	if err != nil {
		took := time.Since(began)
		c.abandon(parent) // first, so that the log holds the container's last words
		return Endpoint{}, c.startError(parent, ctx, err, took, logs)
	}
	ep, err := c.endpoint(ctx, ctr)
	if err != nil {
		c.abandon(parent)
		return Endpoint{}, err
	}
	c.notef("ready at %s after %s", ep.BaseURL, time.Since(began).Round(time.Second))
	return ep, nil
}

// runOptions are the spec's testcontainers options and this start's:
// testcontainers' own messages go to the engine's log file (redacted),
// not to stderr: under go test that is the results file benchstat reads.
func (c *Container) runOptions(logs *logSink) ([]testcontainers.ContainerCustomizer, error) {
	opts, err := containerOptions(c.spec, c.o.getenv)
	if err != nil {
		return nil, fmt.Errorf("engine %q: %w", c.spec.Name, err)
	}
	opts = append([]testcontainers.ContainerCustomizer{testcontainers.WithLogger(tcLogger{logs})}, opts...)
	return append(opts, testcontainers.WithAdditionalLifecycleHooks(c.hooks(logs))), nil
}

// hooks record the container as soon as it is created, so that an
// interrupt during the pull or the wait can terminate it, and follow its
// log into logs once it runs.
func (c *Container) hooks(logs *logSink) testcontainers.ContainerLifecycleHooks {
	return testcontainers.ContainerLifecycleHooks{
		PostCreates: []testcontainers.ContainerHook{func(_ context.Context, ctr testcontainers.Container) error {
			if d, ok := ctr.(*testcontainers.DockerContainer); ok {
				c.setContainer(d)
			}
			return nil
		}},
		PostStarts: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
			c.follow(ctx, ctr.GetContainerID(), logs)
			return nil
		}},
	}
}

// armGuard terminates the container on SIGINT, SIGTERM or SIGHUP, and
// shortly before the test binary's -timeout, until Stop releases it.
func (c *Container) armGuard() {
	release := guard(c.o.signals, c.o.deadline, c.interrupt)
	c.mu.Lock()
	c.release = release
	c.mu.Unlock()
}

// run pulls the image and starts the container; the poller then waits
// until it is ready.
func (c *Container) run(ctx context.Context, opts []testcontainers.ContainerCustomizer) (*testcontainers.DockerContainer, error) {
	ctr, err := testcontainers.Run(ctx, c.spec.Image, opts...)
	if ctr != nil {
		c.setContainer(ctr)
	}
	return ctr, err
}

func (c *Container) setContainer(ctr *testcontainers.DockerContainer) {
	c.mu.Lock()
	c.held.ctr = ctr
	c.mu.Unlock()
}

// abandon terminates what a failed start left, even when the start was
// cancelled, and says so if it cannot.
func (c *Container) abandon(parent context.Context) {
	if err := c.terminate(context.WithoutCancel(parent)); err != nil {
		c.notef("%v", err)
	}
}

// startError explains a failed start: why, for how long, and the log tail.
// It wraps err and, where a context's end stopped the start, the context's
// cause. The poller's errors say why themselves.
func (c *Container) startError(parent, startCtx context.Context, err error, took time.Duration, logs *logSink) error {
	s := c.spec
	var notReady *readyError
	if errors.As(err, &notReady) {
		return fmt.Errorf("%w\nimage %s, container port %d%s", err, s.Image, s.Port, logTail(logs))
	}
	why, cause := whyNotStarted(parent, startCtx, err, s.Startup)
	if cause != nil && !errors.Is(err, cause) {
		err = fmt.Errorf("%w: %w", cause, err)
	}
	return fmt.Errorf("engine %q (%s) %s after %s, probing %s %s on port %d: %w%s",
		s.Name, s.Image, why, took.Round(time.Second), s.Ready.Method, s.Ready.Path, s.Port, err, logTail(logs))
}

// whyNotStarted says why a start failed, and which context's end caused
// it (nil: none did).
func whyNotStarted(parent, startCtx context.Context, err error, startup time.Duration) (why string, cause error) {
	switch {
	case errors.Is(parent.Err(), context.DeadlineExceeded):
		return "was not ready before the start-up timeout (timeouts.startup in engines.yaml)", context.Cause(parent)
	case parent.Err() != nil:
		return "was interrupted", context.Cause(parent)
	case startCtx.Err() != nil:
		return "was interrupted", context.Cause(startCtx)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("was not ready within container.startup (%v)", startup), nil
	}
	return "failed", nil
}

// logTail is the log's last lines, for an error.
func logTail(logs *logSink) string {
	if logs == nil {
		return ""
	}
	if lines := logs.Tail(); len(lines) > 0 {
		return fmt.Sprintf("\nlast %d lines of %s:\n\t%s", len(lines), logs.path, strings.Join(lines, "\n\t"))
	}
	return fmt.Sprintf("\n(%s is empty)", logs.path)
}

// Stop implements Engine: it terminates the container, closes the log and
// then releases the guard. ctx bounds the wait: if it ends first, Stop
// returns an error wrapping its cause, and the container, the log and the
// guard stay for a later Stop (or a signal) to end.
func (c *Container) Stop(ctx context.Context) error {
	if err := c.terminate(ctx); err != nil {
		return err
	}
	return c.releaseGuard(ctx)
}

// releaseGuard stops the guard. An idle guard ends at once; one running
// an interrupt's clean-up (a signal that came during Stop) is waited for
// no longer than ctx allows.
func (c *Container) releaseGuard(ctx context.Context) error {
	c.mu.Lock()
	release, busy := c.release, c.interrupting
	c.release = nil
	c.mu.Unlock()
	if release == nil {
		return nil
	}
	if !busy {
		release()
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		release()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("engine %q: stopping: an interrupt's clean-up is still running: %w (check for the container with: docker ps -a --filter label=%s=%s)",
			c.spec.Name, context.Cause(ctx), LabelEngine, c.spec.Name)
	}
}

// interrupt is the guard's cleanup: stop a start in progress and
// terminate the container.
func (c *Container) interrupt(why string) {
	// Terminate first, report after: stderr may be a broken pipe by now.
	defer c.notef("%s: terminated its container", why)
	c.mu.Lock()
	c.interrupting = true
	cancel, done := c.cancelStart, c.startDone
	c.mu.Unlock()
	if cancel != nil {
		cancel(fmt.Errorf("%s: %w", why, context.Canceled))
	}
	if done != nil {
		// Start terminates what it started; wait for it, but not forever.
		select {
		case <-done:
		case <-time.After(terminateTimeout):
		}
	}
	_ = c.terminate(context.Background())
}

// followDrain is how long terminate lets the log stream end with the
// container before it cuts it.
const followDrain = 5 * time.Second

// terminate stops and removes the container, if any, and closes the log.
// It is safe to call more than once and concurrently. If the container
// cannot be removed (ctx ended, Docker failed), everything is kept for the
// next call.
func (c *Container) terminate(ctx context.Context) error {
	c.mu.Lock()
	h := c.held
	c.held = holding{}
	c.mu.Unlock()
	if err := c.remove(ctx, h.ctr); err != nil {
		c.mu.Lock()
		if c.held.ctr == nil && c.held.logs == nil {
			c.held = h
		}
		c.mu.Unlock()
		return err
	}
	stopFollowing(ctx, h.logsDone, h.cancelFollow)
	if h.logs != nil {
		_ = h.logs.Close()
	}
	return nil
}

// remove stops (10 s grace) and removes a container, within
// terminateTimeout and ctx.
func (c *Container) remove(ctx context.Context, ctr *testcontainers.DockerContainer) error {
	if ctr == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, terminateTimeout)
	defer cancel()
	if err := ctr.Terminate(ctx, testcontainers.StopTimeout(10*time.Second)); err != nil {
		return fmt.Errorf("engine %q: terminating container %.12s: %w (remove it with: docker rm -f %.12s)",
			c.spec.Name, ctr.GetContainerID(), err, ctr.GetContainerID())
	}
	return nil
}

// stopFollowing lets the log stream end with the container, for at most
// followDrain or until ctx ends, then cuts it.
func stopFollowing(ctx context.Context, done <-chan struct{}, cancel context.CancelFunc) {
	if cancel == nil {
		return
	}
	if done != nil {
		select {
		case <-done:
		case <-time.After(followDrain):
		case <-ctx.Done():
		}
	}
	cancel()
}

// openLog creates the log file in the log directory (default: the
// system's temporary directory, announced on stderr).
func (c *Container) openLog() (*logSink, error) {
	dir := c.o.logDir
	if dir == "" {
		dir = os.TempDir()
		c.notef("no results folder given: container log goes to %s", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("engine %q: creating the log directory: %w", c.spec.Name, err)
	}
	logs, err := newLogSink(filepath.Join(dir, "engine-"+c.spec.Name+".log"), c.secrets())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.held.logs = logs
	c.mu.Unlock()
	return logs, nil
}

// follow streams the container's stdout and stderr into logs until the
// container stops or terminate cancels it.
func (c *Container) follow(ctx context.Context, id string, logs *logSink) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	c.mu.Lock()
	c.held.cancelFollow, c.held.logsDone = cancel, done
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

// notef writes "[infbench] engine <name>: <message>" to the notices writer.
func (c *Container) notef(format string, args ...any) {
	c.o.notef("engine "+c.spec.Name+": "+format, args...)
}

func (c *Container) key(k string) string { return "engine-" + c.spec.Name + "-" + k }

// portString is the container port as testcontainers names it.
func (s Spec) portString() string { return strconv.Itoa(s.Port) + "/tcp" }

// tcLogger writes testcontainers' log messages into the engine's log file.
type tcLogger struct{ w io.Writer }

func (l tcLogger) Printf(format string, v ...any) {
	if strings.Contains(format, "Container is ready") {
		// Without a wait strategy that only means started: the poller
		// (ready.go) says when the engine is ready.
		format = strings.Replace(format, "Container is ready", "Container is running (infbench now polls its readiness)", 1)
	}
	fmt.Fprintf(l.w, "[testcontainers] "+strings.TrimRight(format, "\n")+"\n", v...)
}
