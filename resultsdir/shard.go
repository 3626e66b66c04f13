package resultsdir

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ShardFile is shard.jsonl: in the folder of one shard of a sharded run,
// one ShardCell line per cell run, appended when the cell starts, so that
// a shard killed mid-cell still says when its cell began and what its
// share was.
const ShardFile = "shard.jsonl"

// Shard is run.json's "shard": the process's place in a sharded run, or,
// in a merged folder, the shards it was merged from.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// Run is the run's identity, chosen by shard 0's coordinator and
	// handed to every shard when they all joined: folders of one run
	// carry the same one.
	Run         string `json:"run"`
	Coordinator string `json:"coordinator"`
	// Procs is the process's GOMAXPROCS: the -N suffix of its benchmark
	// names, which a merged bench.txt keeps.
	Procs int `json:"procs"`
	// MergedFrom lists the shard folders, by index, of a merged folder.
	MergedFrom []string `json:"merged_from,omitempty"`
}

// ShardCell is one shard's start of one cell run, on its own clock and
// on the coordinator's, with its share of the cell.
type ShardCell struct {
	Key
	Shard  int `json:"shard"`
	Shards int `json:"shards"`
	// Start is this shard's wall clock immediately before its loop
	// started (the loop's epoch follows within microseconds); the
	// records' Sent offsets count from it.
	Start time.Time `json:"start"`
	// ClockOffset is the coordinator's wall clock minus this shard's,
	// measured just before the cell (NTP-style: the exchange of least
	// round trip of several, the coordinator's reading against the
	// midpoint); ClockRTT is that exchange's round trip, the offset's
	// error bound (±RTT/2). Start + ClockOffset is the start on the
	// coordinator's clock, the timeline a merge aligns the shards on.
	ClockOffset time.Duration `json:"clock_offset_ns"`
	ClockRTT    time.Duration `json:"clock_rtt_ns"`
	// The shard's share of the cell (cell.ShareOf).
	Concurrency int     `json:"concurrency,omitempty"`
	Rate        float64 `json:"rate_share,omitempty"`
	MaxInFlight int     `json:"max_in_flight,omitempty"`
	Requests    int     `json:"requests"`
	Warmup      int     `json:"warmup"`
}

// AlignedStart is Start on the coordinator's clock.
func (s ShardCell) AlignedStart() time.Time { return s.Start.Add(s.ClockOffset) }

// AppendShardCell appends one line to dir/shard.jsonl with one Write.
func AppendShardCell(dir string, c ShardCell) error {
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encoding the shard's start of %s: %w", c.Cell, err)
	}
	path := filepath.Join(dir, ShardFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("appending to %s: %w", path, err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("appending to %s: %w (is the disk full?)", path, err)
	}
	return nil
}

// ReadShardCells reads dir/shard.jsonl (none: an unsharded folder). A
// last line cut short is dropped, as ReadRequests does.
func ReadShardCells(dir string) ([]ShardCell, error) {
	path := filepath.Join(dir, ShardFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the shard's cells: %w (is this the results folder of one shard, INFBENCH_SHARD?)", err)
	}
	var out []ShardCell
	for n, line := range splitLines(data) {
		var c ShardCell
		if err := json.Unmarshal(line, &c); err != nil {
			if n == len(splitLines(data))-1 && data[len(data)-1] != '\n' {
				break
			}
			return nil, fmt.Errorf("%s:%d: %w", path, n+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func splitLines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := 0
		for i < len(data) && data[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, data[:i])
		}
		if i == len(data) {
			break
		}
		data = data[i+1:]
	}
	return out
}
