package infbench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/loadgen"
)

// Two closed-loop shards' records, each shard numbering its requests
// and multi-turn sessions from its own 0 and 1: through the shards'
// sinks both become run-wide, so that no two shards share a request or
// a session number, and a shard's turns of one session keep one number.
func TestShardRecordsMakeSessionsRunWide(t *testing.T) {
	var got []loadgen.Record
	sink := func(r loadgen.Record) { got = append(got, r) }
	for i := range 2 {
		c := cell.Cell{Concurrency: 4, Requests: 12}
		in := shardRecords(cell.NumberingOf(c, cell.Shard{Index: i, Count: 2}), sink)
		for k := range 6 {
			in(loadgen.Record{Index: k, Session: k/2 + 1, Turn: k%2 + 1})
		}
	}
	index, session := map[int]bool{}, map[int][]int{}
	require.Len(t, got, 12)
	for _, r := range got {
		assert.False(t, index[r.Index], "request %d twice", r.Index)
		index[r.Index] = true
		session[r.Session] = append(session[r.Session], r.Turn)
		assert.Positive(t, r.Session, "1-based")
	}
	assert.Len(t, index, 12)
	for k := range 12 {
		assert.True(t, index[k], "request %d: the two shards' 6 each are one process's 0 to 11", k)
	}
	assert.Len(t, session, 6, "3 sessions per shard, none shared")
	for id, turns := range session {
		assert.Equal(t, []int{1, 2}, turns, "session %d: one shard's two turns", id)
	}
	// Unsharded: the numbers as they are.
	got = nil
	shardRecords(cell.Numbering{}, sink)(loadgen.Record{Index: 3, Session: 2})
	assert.Equal(t, loadgen.Record{Index: 3, Session: 2}, got[0])
}
