package shard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/infbench/infbench/config"
)

// JoinBarrier is the name of the barrier every shard passes once, when
// it joins the run.
const JoinBarrier = "join"

// Coordinator is shard 0's barrier server.
type Coordinator struct {
	count int
	run   string
	srv   *http.Server
	addr  string
	done  chan struct{}

	mu       sync.Mutex
	barriers map[string]*barrier
	config   []config.Line // the first joiner's
	joiner   int
}

type barrier struct {
	members map[int]string // shard → member id
	release chan struct{}
	start   int64 // when the shards start, on the coordinator's clock (Unix ns); set at release
}

// StartLead is how far ahead of the barrier's release the coordinator
// sets the common start: time for its answer to reach every shard and for
// each to wake up, so that all start at one instant of the coordinator's
// clock, whatever the delays of the answers.
const StartLead = 250 * time.Millisecond

// Serve listens on addr (":7070", or host:port) for count shards until
// Close or ctx is done. The run identity it hands out is random.
func Serve(ctx context.Context, addr string, count int) (*Coordinator, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("shard 0: serving the barrier on %s: %w (%s's port must be free on shard 0)", addr, err, config.EnvCoordinator)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	c := &Coordinator{count: count, run: hex.EncodeToString(b[:]), addr: ln.Addr().String(),
		done: make(chan struct{}), barriers: map[string]*barrier{}, joiner: -1}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /time", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int64{"unix_ns": time.Now().UnixNano()})
	})
	mux.HandleFunc("POST /barrier", c.barrier)
	c.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = c.srv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			_ = c.srv.Close()
		case <-c.done:
		}
	}()
	return c, nil
}

// Addr is the address it listens on.
func (c *Coordinator) Addr() string { return c.addr }

// Run is the run identity it hands out.
func (c *Coordinator) Run() string { return c.run }

// Close stops serving, after the answers being written (at most 5 s).
func (c *Coordinator) Close() error {
	close(c.done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.srv.Shutdown(ctx)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Coordinator) refuse(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusConflict, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (c *Coordinator) barrier(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, member := q.Get("name"), q.Get("member")
	shard, err1 := strconv.Atoi(q.Get("shard"))
	count, err2 := strconv.Atoi(q.Get("count"))
	if name == "" || member == "" || err1 != nil || err2 != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want name, shard, count and member"})
		return
	}
	if count != c.count {
		c.refuse(w, "shard %d says the run has %d shards, shard 0 says %d: give every shard the same %s", shard, count, c.count, config.EnvShard)
		return
	}
	if shard < 0 || shard >= c.count {
		c.refuse(w, "shard %d: not in 0..%d", shard, c.count-1)
		return
	}
	var lines []config.Line
	if name == JoinBarrier {
		if err := json.NewDecoder(r.Body).Decode(&lines); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "join: the body is not the shard's configuration lines: " + err.Error()})
			return
		}
	}
	c.mu.Lock()
	if name == JoinBarrier {
		if c.config == nil {
			c.config, c.joiner = lines, shard
		} else if diff := Diff(lines, c.config); diff != "" {
			first := c.joiner
			c.mu.Unlock()
			c.refuse(w, "shard %d's configuration differs from shard %d's: %s: give every shard the same engines.yaml, prompts.yaml and INFBENCH_* variables", shard, first, diff)
			return
		}
	}
	b := c.barriers[name]
	if b == nil {
		b = &barrier{members: map[int]string{}, release: make(chan struct{})}
		c.barriers[name] = b
	}
	if m, ok := b.members[shard]; ok && m != member {
		c.mu.Unlock()
		c.refuse(w, "shard %d reached barrier %q twice, from two processes: give each process its own index (%s=i/%d)", shard, name, config.EnvShard, c.count)
		return
	}
	b.members[shard] = member
	if len(b.members) == c.count {
		select {
		case <-b.release:
		default:
			b.start = time.Now().Add(StartLead).UnixNano()
			close(b.release)
		}
	}
	c.mu.Unlock()
	select {
	case <-b.release:
		writeJSON(w, http.StatusOK, answer{Run: c.run, StartUnixNS: b.start})
	case <-r.Context().Done():
	case <-c.done:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the coordinator is shutting down"})
	}
}

// answer is the barrier's answer once every shard has arrived.
type answer struct {
	Run         string `json:"run"`
	StartUnixNS int64  `json:"start_unix_ns"`
	Error       string `json:"error,omitempty"`
}

// Diff names the first difference between two sets of configuration
// lines ("" when they agree), by key.
func Diff(a, b []config.Line) string {
	am, bm := map[string]string{}, map[string]string{}
	for _, l := range a {
		am[l.Key] = l.Value
	}
	for _, l := range b {
		bm[l.Key] = l.Value
	}
	for _, l := range a {
		if v, ok := bm[l.Key]; !ok {
			return fmt.Sprintf("%s: %q against none", l.Key, l.Value)
		} else if v != l.Value {
			return fmt.Sprintf("%s: %q against %q", l.Key, l.Value, v)
		}
	}
	for _, l := range b {
		if _, ok := am[l.Key]; !ok {
			return fmt.Sprintf("%s: none against %q", l.Key, l.Value)
		}
	}
	return ""
}

// errRefused marks an answer of 409: retrying cannot help.
var errRefused = errors.New("refused by the coordinator")

func splitHostPort(hp string) (host, port string, err error) { return net.SplitHostPort(hp) }
