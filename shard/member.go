package shard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/infbench/infbench/config"
)

// Member is one shard's end of the barrier.
type Member struct {
	Sharding config.Sharding
	// Run is the run identity the coordinator handed out at Join.
	Run    string
	id     string
	base   string
	client *http.Client
	coord  *Coordinator // shard 0's own server; nil elsewhere
}

// Join starts shard 0's coordinator (on the port of s.Coordinator) when s
// is shard 0, then waits, within s.Timeout, until every shard has joined
// with the same configuration lines. Close it when the run ends.
func Join(ctx context.Context, s config.Sharding, lines []config.Line) (*Member, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &Member{Sharding: s, id: hex.EncodeToString(b[:]), base: "http://" + s.Coordinator,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	if s.Index == 0 {
		_, port, _ := splitHostPort(s.Coordinator)
		c, err := Serve(context.WithoutCancel(ctx), ":"+port, s.Count)
		if err != nil {
			return nil, err
		}
		m.coord = c
		m.base = "http://127.0.0.1:" + port
	}
	body, err := json.Marshal(lines)
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	ans, err := m.wait(ctx, JoinBarrier, body)
	if err != nil {
		return nil, errors.Join(err, m.Close())
	}
	m.Run = ans.Run
	return m, nil
}

// Close stops shard 0's coordinator.
func (m *Member) Close() error {
	m.client.CloseIdleConnections()
	if m.coord != nil {
		return m.coord.Close()
	}
	return nil
}

// Barrier measures the clock offset to the coordinator, then waits,
// within the sharding's timeout, until every shard has reached the
// barrier name (one per cell run). It returns the clock and the common
// start the coordinator set (StartLead after the last shard arrived),
// on this shard's clock: call Start with it immediately before the cell.
func (m *Member) Barrier(ctx context.Context, name string) (Clock, time.Time, error) {
	clock, err := m.Clock(ctx)
	if err != nil {
		return Clock{}, time.Time{}, err
	}
	ans, err := m.wait(ctx, name, nil)
	if err != nil {
		return Clock{}, time.Time{}, err
	}
	return clock, time.Unix(0, ans.StartUnixNS).Add(-clock.Offset), nil
}

// Start sleeps until at (on this shard's wall clock), or returns at once
// if it has passed.
func Start(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait posts to the barrier until it answers, retrying while the
// coordinator cannot be reached (shard 0 may start last), all within the
// timeout.
func (m *Member) wait(ctx context.Context, name string, body []byte) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, m.Sharding.Timeout)
	defer cancel()
	q := url.Values{"name": {name}, "shard": {strconv.Itoa(m.Sharding.Index)},
		"count": {strconv.Itoa(m.Sharding.Count)}, "member": {m.id}}
	u := m.base + "/barrier?" + q.Encode()
	var last error
	for {
		ans, err := m.post(ctx, u, body)
		if err == nil || errors.Is(err, errRefused) {
			if err != nil {
				return answer{}, fmt.Errorf("shard %d of %d at barrier %q: %w", m.Sharding.Index, m.Sharding.Count, name, err)
			}
			return ans, nil
		}
		last = err
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return answer{}, fmt.Errorf("shard %d of %d: barrier %q at %s not passed within %v (%s): a shard is missing, dead or slower; last: %v",
				m.Sharding.Index, m.Sharding.Count, name, m.Sharding.Coordinator, m.Sharding.Timeout, config.EnvBarrierTimeout, last)
		case <-t.C:
		}
	}
}

func (m *Member) post(ctx context.Context, u string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	var ans answer
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &ans)
	switch {
	case resp.StatusCode == http.StatusOK:
		return ans, nil
	case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusBadRequest:
		return answer{}, fmt.Errorf("%w: %s", errRefused, ans.Error)
	}
	return answer{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(data))
}

// Clock is a shard's clock against the coordinator's.
type Clock struct {
	// Offset is the coordinator's wall clock minus this shard's.
	Offset time.Duration
	// RTT is the round trip of the exchange Offset comes from: Offset is
	// right within ±RTT/2.
	RTT time.Duration
}

// clockSamples is how many exchanges Clock makes; it keeps the one of
// least round trip, the least disturbed by queueing.
const clockSamples = 8

// Clock measures the offset to the coordinator's clock, NTP-style: for
// each of a few GET /time exchanges, the coordinator's reading against
// the midpoint of the local send and receive; the exchange with the
// shortest round trip wins.
func (m *Member) Clock(ctx context.Context) (Clock, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	best := Clock{RTT: -1}
	var last error
	for range clockSamples {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+"/time", nil)
		if err != nil {
			return Clock{}, err
		}
		t0 := time.Now()
		resp, err := m.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		var ans struct {
			UnixNS int64 `json:"unix_ns"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		t1 := time.Now()
		if err != nil {
			last = err
			continue
		}
		rtt := t1.Sub(t0)
		mid := t0.Add(rtt / 2)
		if best.RTT < 0 || rtt < best.RTT {
			best = Clock{Offset: time.Duration(ans.UnixNS - mid.UnixNano()), RTT: rtt}
		}
	}
	if best.RTT < 0 {
		return Clock{}, fmt.Errorf("shard %d: measuring the clock against %s: %w", m.Sharding.Index, m.base, last)
	}
	return best, nil
}
