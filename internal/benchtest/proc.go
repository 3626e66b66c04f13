package benchtest

import (
	"bytes"
	"errors"
	"os/exec"
	"sync"
	"testing"
)

// Proc is a benchmark subprocess started by Start, running beside
// others (the shards of one run).
type Proc struct {
	Cmd            *exec.Cmd
	stdout, stderr SyncBuffer
	done           chan struct{}
	err            error
}

// Start starts the benchmarks of the test binary at binary in a
// subprocess, with the environment and arguments Run would give it, in
// the working directory dir ("": the test's; the benchmark reads
// testdata/engines.yaml and testdata/prompts.yaml from it), and returns
// at once. Wait for it.
func Start(t *testing.T, binary, dir string, env []string, args ...string) (*Proc, error) {
	if testing.Short() {
		t.Skip("runs the benchmark in subprocesses")
	}
	p := &Proc{Cmd: command(t, binary, env, args), done: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.Stdout, p.Cmd.Stderr = &p.stdout, &p.stderr
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	return p, nil
}

// Wait waits for the process to end and returns what it printed and its
// exit status (-1: killed by a signal).
func (p *Proc) Wait() Result {
	<-p.done
	code := 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	} else if p.err != nil {
		code = -1
	}
	return Result{p.stdout.String(), p.stderr.String(), code}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers
// (a process's writes and the test's reads at once).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
