package resultsdir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/loadgen"
)

// Writer writes a results folder. Its methods are safe for concurrent use.
type Writer struct {
	dir string

	mu     sync.Mutex // guards the fields below and every write
	run    Run
	reqs   *os.File
	sums   Summaries
	sweeps Sweeps
	reps   map[string]int
	err    error // the first failed request write
}

// Create makes the folder dir (and its parents), writes run.json and an
// empty summary.json, and opens requests.jsonl for appending. It refuses
// a folder that already holds a run.
func Create(dir string, run Run) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating results folder: %w (set %s to a writable folder)", err, EnvDir)
	}
	path := filepath.Join(dir, RequestsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("results folder %s already holds a run (%s exists): set %s to a new folder or remove it", dir, RequestsFile, EnvDir)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	w := &Writer{dir: dir, run: run, reqs: f, sums: Summaries{Cells: []CellSummary{}}, reps: map[string]int{}}
	if err := WriteJSON(filepath.Join(dir, RunFile), &w.run); err != nil {
		f.Close()
		return nil, err
	}
	if err := WriteJSON(filepath.Join(dir, SummaryFile), &w.sums); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Dir is the results folder.
func (w *Writer) Dir() string { return w.dir }

// UpdateRun applies f to the run description and rewrites run.json.
func (w *Writer) UpdateRun(f func(*Run)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(&w.run)
	return WriteJSON(filepath.Join(w.dir, RunFile), &w.run)
}

// SetEngine records an engine (by name: replacing an earlier entry, else
// appended) and rewrites run.json. Call it when the engine has started
// and its Endpoint.Info lines are known.
func (w *Writer) SetEngine(e Engine) error {
	return w.UpdateRun(func(r *Run) {
		for i := range r.Engines {
			if r.Engines[i].Name == e.Name {
				r.Engines[i] = e
				return
			}
		}
		r.Engines = append(r.Engines, e)
	})
}

// Begin starts recording a run of c: its key (the repetition from
// NextRep) and the sink for its records. Pass key.Rep to the cell (it
// fixes an open loop's arrivals), the sink to cell.Run, and the key with
// the summary to AddSummary when the cell ends.
func (w *Writer) Begin(c cell.Cell) (Key, func(loadgen.Record)) {
	k := Key{Cell: c.Name(), Engine: c.Engine, Conc: c.Concurrency, Rate: c.Rate, Workload: c.Workload, Rep: w.NextRep(c.Name())}
	return k, w.Sink(k)
}

// NextRep returns the repetition index of the next run of cell: 0 the
// first time, then 1, 2, …
func (w *Writer) NextRep(cell string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.reps[cell]
	w.reps[cell] = n + 1
	return n
}

// Sink returns a function that appends each record it is given to
// requests.jsonl as one line, written with one Write call while holding
// the Writer's lock, unbuffered: a line is in the file (the kernel's page
// cache) when the call returns. Pass it to cell.Run. A failed
// write is kept and returned by AddSummary, Err and Close; later records
// are not written.
func (w *Writer) Sink(k Key) func(loadgen.Record) {
	return func(r loadgen.Record) {
		line, err := json.Marshal(Request{Key: k, Record: r})
		if err != nil {
			err = fmt.Errorf("encoding request %d of %s: %w", r.Index, k.Cell, err)
		}
		line = append(line, '\n')
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.err != nil {
			return
		}
		if err == nil {
			_, err = w.reqs.Write(line)
			if err != nil {
				err = fmt.Errorf("appending to %s: %w (is the disk full?)", filepath.Join(w.dir, RequestsFile), err)
			}
		}
		w.err = err
	}
}

// AddSummary adds a cell run's summary and rewrites summary.json
// atomically. It also returns the first error of the requests' sink.
func (w *Writer) AddSummary(k Key, s loadgen.Summary) error {
	return w.Add(CellSummary{Key: k, Summary: s})
}

// Add adds a cell run's summary with its server metrics, as AddSummary
// does.
func (w *Writer) Add(cs CellSummary) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sums.Cells = append(w.sums.Cells, cs)
	if err := WriteJSON(filepath.Join(w.dir, SummaryFile), &w.sums); err != nil {
		return err
	}
	return w.err
}

// Cells returns how many cell runs have a summary.
func (w *Writer) Cells() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sums.Cells)
}

// Err returns the first error writing requests.jsonl, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes requests.jsonl and returns the first write error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reqs == nil {
		return w.err
	}
	err := w.reqs.Close()
	w.reqs = nil
	if w.err != nil {
		return w.err
	}
	if err != nil {
		return fmt.Errorf("closing %s: %w", filepath.Join(w.dir, RequestsFile), err)
	}
	return nil
}

// RemoveUnmeasured removes a results folder in which no cell was
// measured: the files Create wrote, then the folder itself if nothing
// else is in it (the log of an engine that failed to start keeps its
// folder). It reports whether the folder is gone. A folder with a cell
// summary or a request, or without summary.json, is left as it is.
func RemoveUnmeasured(dir string) (removed bool, err error) {
	sums, err := ReadSummaries(dir)
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return true, nil
		}
		return false, err
	}
	if len(sums.Cells) > 0 {
		return false, nil
	}
	if st, err := os.Stat(filepath.Join(dir, RequestsFile)); err == nil && st.Size() > 0 {
		return false, nil
	}
	for _, f := range []string{RequestsFile, SummaryFile, RunFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("removing the unmeasured results folder: %w", err)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return false, nil
	}
	if err := os.Remove(dir); err != nil {
		return false, fmt.Errorf("removing the unmeasured results folder: %w", err)
	}
	return true, nil
}
