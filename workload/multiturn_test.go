package workload_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// sent is what a wrapped Doer saw: each request as built and its record.
type sent struct {
	req loadgen.Request
	rec loadgen.Record
}

type logDoer struct {
	d   loadgen.Doer
	mu  sync.Mutex
	log []sent
}

func (l *logDoer) Do(ctx context.Context, r loadgen.Request, epoch time.Time) loadgen.Record {
	rec := l.d.Do(ctx, r, epoch)
	l.mu.Lock()
	l.log = append(l.log, sent{r, rec})
	l.mu.Unlock()
	return rec
}

// A multi-turn cell on the simulator: turn k+1 sends turn k's answer as
// the server streamed it; the think time passes between an answer and
// the next send, outside TTFT; TTFT is reported for turn 1 apart from
// the later turns.
func TestMultiTurnOnSimulator(t *testing.T) {
	const think = 150 * time.Millisecond
	url := simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	client := simtest.Client(t, url, "m", 2)
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 3, ThinkTime: think,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 20}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 6}}, "")
	require.NoError(t, err)
	d := &logDoer{d: client}
	cl := cell.Cell{Engine: "sim", Concurrency: 2, Workload: "mt", Source: src, Requests: 10, Warmup: 2, Seed: 3}
	recs, sum, err := cell.Run(context.Background(), d, cl, cell.NewSalter(3), nil, nil)
	require.NoError(t, err)
	require.Len(t, recs, 12)

	bySession := map[int][]sent{}
	for _, s := range d.log {
		require.True(t, s.rec.OK(), s.rec.Error)
		bySession[s.req.Session] = append(bySession[s.req.Session], s)
	}
	later := 0
	for id, turns := range bySession {
		slices.SortFunc(turns, func(a, b sent) int { return a.req.Turn - b.req.Turn })
		for k, s := range turns {
			assert.Equal(t, k+1, s.req.Turn, "session %d", id)
			assert.Equal(t, s.req.Turn, s.rec.Turn, "the record carries its turn")
			assert.Equal(t, id, s.rec.Session)
			require.Len(t, s.req.Messages, 2*k+1, "user, assistant, …, user")
			if k == 0 {
				continue
			}
			later++
			prev := turns[k-1]
			assert.NotEmpty(t, prev.rec.Text)
			assert.Equal(t, prev.rec.Text, s.req.Messages[2*k-1].Content, "turn %d quotes turn %d's answer as streamed", k+1, k)
			assert.Equal(t, "assistant", s.req.Messages[2*k-1].Role)
			assert.Equal(t, prev.req.Messages, s.req.Messages[:2*k-1], "the conversation so far, unchanged")
			// The think time passed between the answer and this send…
			assert.GreaterOrEqual(t, s.rec.Sent-(prev.rec.Sent+prev.rec.End), think)
			// …and is not in TTFT, which counts from the send: it is
			// below the gap this request waited before it was sent.
			assert.Less(t, s.rec.TTFT, s.rec.Sent-(prev.rec.Sent+prev.rec.End))
		}
	}
	assert.Positive(t, later)
	n1, nl := 0, 0
	for _, r := range recs {
		if r.Warmup {
			continue
		}
		if r.Turn == 1 {
			n1++
		} else {
			nl++
		}
	}
	assert.Equal(t, n1, sum.TTFTTurn1.N)
	assert.Equal(t, nl, sum.TTFTLater.N)
	var units []string
	for _, m := range sum.Metrics() {
		units = append(units, m.Unit)
	}
	assert.Contains(t, units, "ttft-turn1-p50-ns")
	assert.Contains(t, units, "ttft-later-p50-ns")
	assert.Contains(t, sum.InputTokens, "estimated")
}

// A rate cell refuses a multi-turn workload.
func TestMultiTurnClosedLoopOnly(t *testing.T) {
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: 2,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 20}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 6}}, "")
	require.NoError(t, err)
	cl := cell.Cell{Engine: "sim", Rate: 5, MaxInFlight: 4, Workload: "mt", Source: src, Requests: 4}
	_, _, err = cell.Run(context.Background(), nil, cl, cell.NewSalter(3), nil, nil)
	assert.ErrorContains(t, err, "workload mt runs in a closed loop only")
}
