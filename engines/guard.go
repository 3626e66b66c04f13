package engines

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// signalHooks are the process-signal operations the guard uses; tests
// replace them so that a fake SIGINT does not end the test binary.
type signalHooks struct {
	notify func(chan<- os.Signal)
	stop   func(chan<- os.Signal)
	raise  func(os.Signal)
}

func defaultSignalHooks() signalHooks {
	return signalHooks{
		// SIGHUP: a closed SSH session must not leave the GPU held.
		notify: func(ch chan<- os.Signal) { signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) },
		stop:   func(ch chan<- os.Signal) { signal.Stop(ch) },
		// Re-deliver the signal with the default action restored, so the
		// process ends as it would have without the guard.
		raise: func(sig os.Signal) {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
		},
	}
}

// deadlineMargin is how long before the test binary's -timeout the guard
// terminates the container: enough for a 10 s stop and the removal.
const deadlineMargin = 30 * time.Second

// guard runs cleanup when the process receives SIGINT or SIGTERM (then
// re-raises the signal) or when the deadline is near (the -timeout panic
// runs no cleanup, and Ryuk is disabled). release stops it.
func guard(h signalHooks, deadline time.Time, cleanup func(why string)) (release func()) {
	ch := make(chan os.Signal, 1)
	h.notify(ch)
	// Ctrl-C on `go test ... | tee new.txt` kills tee too: a write to the
	// broken pipe would then kill the process with SIGPIPE before the
	// container is terminated. While a guard is active SIGPIPE is caught
	// (and dropped), so such writes fail with EPIPE instead.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	var timer <-chan time.Time
	var t *time.Timer
	if !deadline.IsZero() {
		t = time.NewTimer(max(time.Until(deadline)-deadlineMargin, 0))
		timer = t.C
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(pipe)
		defer h.stop(ch)
		if t != nil {
			defer t.Stop()
		}
		select {
		case sig := <-ch:
			cleanup("signal " + sig.String())
			h.stop(ch)
			h.raise(sig)
		case <-timer:
			cleanup("the test binary's -timeout is " + deadlineMargin.String() + " away")
		case <-quit:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
}
