package workload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/workload"
)

// failTurn2Once answers as answerServer does, except the first request
// whose conversation has 3 messages (a turn 2): that one gets HTTP 500.
type failTurn2Once struct {
	answerServer
	once sync.Mutex
	done bool
}

func (f *failTurn2Once) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body struct {
		Messages []json.RawMessage `json:"messages"`
	}
	_ = json.Unmarshal(b, &body)
	f.once.Lock()
	fail := !f.done && len(body.Messages) == 3
	f.done = f.done || fail
	f.once.Unlock()
	if fail {
		http.Error(w, "injected failure", http.StatusInternalServerError)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	f.answerServer.ServeHTTP(w, r)
}

// A failed turn ends its session there — no later turn of it is sent —
// and a new session starts with turn 1, so C sessions stay in progress.
func TestMultiTurnFailedTurnEndsSession(t *testing.T) {
	const conc, turns = 2, 3
	srv := &failTurn2Once{}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	client, err := loadgen.NewClient(loadgen.Target{BaseURL: ts.URL, Model: "m", API: loadgen.Chat, IncludeUsage: true}, conc)
	require.NoError(t, err)
	t.Cleanup(client.Close)
	src, err := workload.New(config.WorkloadSpec{Name: "mt", Kind: config.WorkloadMultiTurn, Turns: turns,
		InputTokens: config.Dist{Dist: config.DistFixed, Value: 12}, OutputTokens: config.Dist{Dist: config.DistFixed, Value: 3}}, "")
	require.NoError(t, err)
	cl := cell.Cell{Engine: "x", Concurrency: conc, Workload: "mt", Source: src, Requests: 14, Seed: 2, GiveUpAfter: -1}
	recs, sum, err := cell.Run(context.Background(), client, cl, cell.NewSalter(2), nil, nil)
	require.NoError(t, err)
	require.Len(t, recs, 14)
	require.Equal(t, 1, sum.Failed, "the one injected failure")

	bySession := map[int][]loadgen.Record{}
	failed := 0
	for _, r := range recs {
		bySession[r.Session] = append(bySession[r.Session], r)
		if !r.OK() {
			failed = r.Session
			assert.Equal(t, 2, r.Turn, "the failure was a turn 2")
			assert.Equal(t, http.StatusInternalServerError, r.Status)
		}
	}
	require.NotZero(t, failed)
	ended := map[int]time.Duration{} // session → when its last record ended
	for id, rs := range bySession {
		slices.SortFunc(rs, func(a, b loadgen.Record) int { return a.Turn - b.Turn })
		for k, r := range rs {
			assert.Equal(t, k+1, r.Turn, "session %d: turns 1, 2, … in order, none skipped", id)
		}
		last := rs[len(rs)-1]
		if id == failed || len(rs) == turns {
			ended[id] = last.Sent + last.End
		}
	}
	assert.Len(t, bySession[failed], 2, "the failed session sent no turn 3")
	// A session started after the failure, with turn 1.
	var failEnd time.Duration = ended[failed]
	later := false
	for id, rs := range bySession {
		if rs[0].Sent > failEnd {
			later = true
			assert.Equal(t, 1, rs[0].Turn, "session %d starts with turn 1", id)
		}
	}
	assert.True(t, later, "a new session started after the failed one")
	// C sessions stay in progress: never more than conc at a send, and
	// session conc+k (sessions are numbered as they start) starts only
	// after the k-th session to end has ended — each ended session,
	// finished or failed, is replaced by one new session.
	var ends []time.Duration
	for _, e := range ended {
		ends = append(ends, e)
	}
	slices.Sort(ends)
	for _, r := range recs {
		open := 0
		for id, rs := range bySession {
			end, done := ended[id]
			if rs[0].Sent <= r.Sent && (!done || end > r.Sent) {
				open++
			}
		}
		assert.LessOrEqual(t, open, conc, "sessions in progress when session %d turn %d was sent", r.Session, r.Turn)
	}
	replaced := 0
	for id, rs := range bySession {
		if k := id - conc; k >= 1 {
			require.LessOrEqual(t, k, len(ends), "session %d started with only %d sessions ended", id, len(ends))
			assert.Greater(t, rs[0].Sent, ends[k-1], "session %d starts after the %d-th session ended", id, k)
			replaced++
		}
	}
	assert.GreaterOrEqual(t, replaced, 2, "the failed session and a finished one were replaced")
}
