package engines

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
)

// tailLines is how many log lines a start-up error carries.
const tailLines = 40

// logSink writes a container's log to a file line by line, with secret
// values replaced, and keeps the last tailLines lines for errors.
type logSink struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	secrets []string
	partial []byte
	tail    []string
	next    int
	full    bool
}

func newLogSink(path string, secrets []string) (*logSink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the container log %s: %w (set the log directory to a writable folder)", path, err)
	}
	return &logSink{f: f, path: path, secrets: nonEmpty(secrets), tail: make([]string, tailLines)}, nil
}

// Write implements io.Writer. Lines are redacted whole, so a secret split
// across writes is still caught.
func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *logSink) line(s string) {
	s = redact(strings.TrimRight(s, "\r"), l.secrets)
	if l.f != nil {
		_, _ = l.f.WriteString(s + "\n")
	}
	l.tail[l.next] = s
	l.next = (l.next + 1) % len(l.tail)
	l.full = l.full || l.next == 0
}

// Tail returns the last lines written, oldest first.
func (l *logSink) Tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]string(nil), l.tail[:l.next]...)
	}
	return append(append([]string(nil), l.tail[l.next:]...), l.tail[:l.next]...)
}

// Close flushes a last partial line and closes the file.
func (l *logSink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.line(string(l.partial))
		l.partial = nil
	}
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// redactedError shows an error's message with every secret value replaced,
// and unwraps to the error itself, so that errors.Is and errors.As still
// reach its causes (which, printed on their own, may show the secrets).
type redactedError struct {
	err     error
	secrets []string
}

// redactError hides secrets in err's message; nil stays nil, and an error
// is returned as it is when there is no secret to hide.
func redactError(err error, secrets []string) error {
	secrets = nonEmpty(secrets)
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: secrets}
}

func (e *redactedError) Error() string { return redact(e.err.Error(), e.secrets) }

// Unwrap gives errors.Is and errors.As the original error. It is not
// redacted: print only the redactedError itself (its Error is), never an
// error taken out of it with errors.As.
func (e *redactedError) Unwrap() error { return e.err }

// redact replaces every secret value in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

func nonEmpty(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
