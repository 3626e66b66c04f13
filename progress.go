package infbench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Progress is where a running cell's [infbench] lines go, chosen once per
// run so that they appear while the cell runs and never inside a
// benchmark line:
//
//   - the test binary run directly, stderr apart from stdout: stderr;
//   - under go test, which hands the test binary one file for both: the
//     go command's own stderr (Linux), when that is not the file the
//     benchmark lines go to (go test -bench=. > new.txt, | tee new.txt);
//   - a terminal that shows both: the terminal;
//   - else (go test ... 2>&1 > all.txt): held, and logged under the
//     cell's result line (b.Log) when it ends, so that the file parses.
type Progress struct {
	w      io.Writer // nil: lines are held until the cell ends
	shared bool      // w is a terminal that shows the benchmark lines too
	chatty bool      // -test.v: the testing package prints a name with its result only
	close  func()
}

// OpenProgress chooses where progress goes for this process; chatty is
// -test.v (the testing package then prints a benchmark's name with its
// result only). Close it when the run ends.
func OpenProgress(chatty bool) *Progress {
	p := &Progress{close: func() {}, chatty: chatty}
	o, oerr := os.Stdout.Stat()
	e, eerr := os.Stderr.Stat()
	if oerr != nil || eerr != nil || !os.SameFile(o, e) {
		p.w = os.Stderr
		return p
	}
	if f := goCommandStderr(); f != nil {
		if st, err := f.Stat(); err == nil && (!os.SameFile(st, o) || isTerminal(st)) {
			p.w, p.shared, p.close = f, os.SameFile(st, o), func() { _ = f.Close() }
			return p
		}
		_ = f.Close()
	}
	if isTerminal(o) {
		p.w, p.shared = os.Stderr, true
	}
	return p
}

// goCommandStderr opens the stderr of the go command that runs this test
// binary (go test gives the binary its stdout for both), or returns nil:
// not Linux, not run by go test, or not allowed.
func goCommandStderr() *os.File {
	if runtime.GOOS != "linux" {
		return nil
	}
	ppid := os.Getppid()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", ppid))
	if err != nil || strings.TrimSuffix(filepath.Base(exe), " (deleted)") != "go" {
		return nil
	}
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", ppid), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}

func isTerminal(st os.FileInfo) bool { return st.Mode()&os.ModeCharDevice != 0 }

// Close releases the go command's stderr when progress went there.
func (p *Progress) Close() { p.close() }

// Bench is the part of *testing.B progress needs: the benchmark's name,
// and its log for lines held until the cell ends.
type Bench interface {
	Name() string
	Log(args ...any)
}

// ForCell returns the writer for one cell run (rep counts the runs of
// this cell: -count and -cpu repeat it) and the function to call when the
// cell has ended, before its result is printed.
func (p *Progress) ForCell(b Bench, rep int) (io.Writer, func()) {
	switch {
	case p.w == nil:
		h := &heldLines{}
		return h, func() {
			for _, l := range h.take() {
				b.Log(l)
			}
		}
	case !p.shared || p.chatty || rep == 0:
		return p.w, func() {}
	}
	// On a terminal that shows the benchmark lines, the testing package
	// has printed this repetition's name and prints its result on the
	// same line when the cell returns: start below the name, and print it
	// again at the end so that the result line is whole.
	lw := &belowName{w: p.w}
	return lw, func() {
		if lw.wrote {
			fmt.Fprintf(p.w, "%s\t", benchmarkName(b))
		}
	}
}

// benchmarkName is the name the testing package prints for b: its full
// name, with the GOMAXPROCS suffix.
func benchmarkName(b Bench) string {
	if n := runtime.GOMAXPROCS(0); n != 1 {
		return fmt.Sprintf("%s-%d", b.Name(), n)
	}
	return b.Name()
}

// belowName starts a new line before its first write.
type belowName struct {
	mu    sync.Mutex
	w     io.Writer
	wrote bool
}

func (l *belowName) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.wrote {
		l.wrote = true
		if _, err := io.WriteString(l.w, "\n"); err != nil {
			return 0, err
		}
	}
	return l.w.Write(p)
}

// heldLines keeps progress lines until the cell ends.
type heldLines struct {
	mu    sync.Mutex
	lines []string
}

func (h *heldLines) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (h *heldLines) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

// W is the writer for lines outside a cell (an engine starting): the live
// one, else stderr.
func (p *Progress) W() io.Writer {
	if p.w == nil {
		return os.Stderr
	}
	return p.w
}
