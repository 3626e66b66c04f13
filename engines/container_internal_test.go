package engines

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// A redacted error hides the secret in its message and in every message
// built on it, but errors.Is and errors.As still reach its causes.
func TestRedactedErrorKeepsCauses(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "/secret/" + secret, Err: fs.ErrPermission}
	err := redactError(cause, []string{"", secret})
	wrapped := errors.Join(errors.New("outer"), err)
	for _, e := range []error{err, wrapped} {
		if strings.Contains(e.Error(), secret) || !strings.Contains(e.Error(), "/secret/[redacted]") {
			t.Errorf("message %q shows the secret or lost its text", e)
		}
		if !errors.Is(e, fs.ErrPermission) {
			t.Errorf("errors.Is(%q, fs.ErrPermission) = false", e)
		}
		var pe *fs.PathError
		if !errors.As(e, &pe) || pe != cause {
			t.Errorf("errors.As(%q, *fs.PathError) does not reach the cause", e)
		}
	}
	if redactError(nil, []string{secret}) != nil {
		t.Error("redactError(nil) is not nil")
	}
	if got := redactError(cause, []string{""}); got != error(cause) {
		t.Errorf("with no secret, redactError returned %#v, want the error itself", got)
	}
}

// whyNotStarted tells the start-up timeout, an interrupt, the container's
// own readiness deadline and any other failure apart by their errors, and
// startError keeps the cause inspectable.
func TestStartErrorSaysWhy(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	interrupted, cancel3 := context.WithCancelCause(context.Background())
	signal := errors.New("signal interrupt")
	cancel3(signal)
	live := context.Background()
	waitErr := errors.Join(errors.New("wait until ready"), context.DeadlineExceeded)
	exited := errors.New("container exited with code 2")
	for _, tc := range []struct {
		name             string
		parent, startCtx context.Context
		err              error
		why              string
		is               error
	}{
		{"start-up timeout", expired, expired, waitErr, "before the start-up timeout (timeouts.startup", context.DeadlineExceeded},
		{"caller cancelled", cancelled, cancelled, exited, "was interrupted", context.Canceled},
		{"guard interrupted", live, interrupted, exited, "was interrupted", signal},
		{"container.startup", live, live, waitErr, "was not ready within container.startup (1m0s)", context.DeadlineExceeded},
		{"exited", live, live, exited, "failed after", exited},
	} {
		why, _ := whyNotStarted(tc.parent, tc.startCtx, tc.err, time.Minute)
		c := &Container{spec: Spec{Name: "e", Image: "img", Port: 8000, Startup: time.Minute}}
		err := c.startError(tc.parent, tc.startCtx, tc.err, 0, nil)
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: error %q (why %q), want %q", tc.name, err, why, tc.why)
		}
		if !errors.Is(err, tc.is) || !errors.Is(err, tc.err) {
			t.Errorf("%s: error %q does not wrap %v and %v", tc.name, err, tc.is, tc.err)
		}
	}
	// The poller's errors say why themselves; startError adds the image
	// and keeps the cause.
	notReady := &readyError{msg: `engine "e": the container exited with code 2 while waiting for GET /health to answer 2xx`, err: &exitedError{Code: 2}}
	c := &Container{spec: Spec{Name: "e", Image: "img", Port: 8000, Startup: time.Minute}}
	err := c.startError(live, live, notReady, 1500*time.Millisecond, nil)
	var exit *exitedError
	if err.Error() != notReady.msg+"\nimage img, container port 8000" || !errors.As(err, &exit) {
		t.Errorf("start error %q, want the poller's, with the image, wrapping the exit", err)
	}
	if why, _ := whyNotStarted(live, live, exited, time.Minute); why != "failed" {
		t.Errorf("a failure without a deadline: why %q, want failed", why)
	}
}
