package resultsdir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ReadRun reads dir/run.json.
func ReadRun(dir string) (*Run, error) {
	var r Run
	if err := readJSON(filepath.Join(dir, RunFile), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadSummaries reads dir/summary.json.
func ReadSummaries(dir string) (*Summaries, error) {
	var s Summaries
	if err := readJSON(filepath.Join(dir, SummaryFile), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading results: %w (is this a results folder written by go test -bench?)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w (the file is damaged; run.json and summary.json are replaced atomically, so it was edited or copied while written)", path, err)
	}
	return nil
}

// ReadRequests reads dir/requests.jsonl. A last line that is cut short (no
// newline, not valid JSON: the run was killed while writing it) is
// dropped and reported by truncated; a bad line elsewhere is an error
// naming the file and line.
func ReadRequests(dir string) (reqs []Request, truncated bool, err error) {
	path := filepath.Join(dir, RequestsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("reading results: %w (is this a results folder written by go test -bench?)", err)
	}
	defer f.Close()
	return readRequests(path, f)
}

func readRequests(name string, r io.Reader) ([]Request, bool, error) {
	var out []Request
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return out, false, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		last := errors.Is(err, io.EOF)
		if t := bytes.TrimSpace(line); len(t) > 0 {
			var q Request
			if jerr := json.Unmarshal(t, &q); jerr != nil {
				if last && line[len(line)-1] != '\n' {
					return out, true, nil
				}
				return out, false, fmt.Errorf("%s:%d: %w (only the last line may be cut short)", name, n, jerr)
			}
			out = append(out, q)
		}
		if last {
			return out, false, nil
		}
	}
}
