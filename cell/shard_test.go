package cell_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/engines/sim"
	"github.com/infbench/infbench/internal/simtest"
	"github.com/infbench/infbench/loadgen"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		total   int
		weights []int
		want    []int
	}{
		{200, []int{1, 1, 1, 1}, []int{50, 50, 50, 50}},
		{10, []int{1, 1, 1, 1}, []int{3, 3, 2, 2}},
		{1, []int{1, 1, 1, 1}, []int{1, 0, 0, 0}},
		{40, []int{3, 3, 2, 2}, []int{12, 12, 8, 8}},
		{11, []int{3, 3, 2, 2}, []int{4, 3, 2, 2}}, // 3.3, 3.3, 2.2, 2.2: the remainder to the first of the largest fractions
		{5, []int{0, 0}, []int{0, 0}},
	} {
		got := cell.Split(tc.total, tc.weights)
		assert.Equal(t, tc.want, got, "Split(%d, %v)", tc.total, tc.weights)
	}
}

// The shards' shares add up to the cell, whatever the numbers.
func TestSharesAddUp(t *testing.T) {
	for _, n := range []int{2, 3, 4, 7} {
		for _, c := range []cell.Cell{
			{Concurrency: 200, Requests: 800, Warmup: 200},
			{Concurrency: 10, Requests: 41, Warmup: 10},
			{Concurrency: 3, Requests: 16, Warmup: 3},
			{Rate: 8, MaxInFlight: 1024, Requests: 200, Warmup: 8},
		} {
			var conc, req, warm int
			var rate float64
			for i := range n {
				s := cell.ShareOf(c, cell.Shard{Index: i, Count: n})
				conc, req, warm, rate = conc+s.Concurrency, req+s.Requests, warm+s.Warmup, rate+s.Rate
			}
			assert.Equal(t, c.Concurrency, conc, "%d shards of %+v", n, c)
			assert.Equal(t, c.Requests, req, "%d shards of %+v", n, c)
			assert.Equal(t, c.Warmup, warm, "%d shards of %+v", n, c)
			assert.InDelta(t, c.Rate, rate, 1e-9, "%d shards of %+v", n, c)
		}
	}
}

// Salts of the shards of a run never collide, and those of one shard of
// one are the unsharded run's.
func TestShardSaltsAreDisjoint(t *testing.T) {
	seen := map[string]int{}
	for i := range 4 {
		s := cell.NewShardSalter(0xabc, cell.Shard{Index: i, Count: 4})
		for range 50 {
			salt := s.Next()
			prev, dup := seen[salt]
			require.False(t, dup, "salt %q of shard %d already shard %d's", salt, i, prev)
			seen[salt] = i
		}
	}
	one, whole := cell.NewSalter(0xabc), cell.NewShardSalter(0xabc, cell.Shard{})
	for range 3 {
		assert.Equal(t, one.Next(), whole.Next())
	}
	assert.Equal(t, "[infbench abc-3]\n", cell.NewShardSalter(0xabc, cell.Shard{Index: 2, Count: 4}).Next())
}

// A shard's open loop follows the whole cell's schedule and sends its
// arrivals k mod n = i: run against a server that answers at once, the
// shards' records together are the single process's schedule exactly,
// index for index and due time for due time, warmup included, for
// Poisson and for bursty gamma gaps; an empty share sends nothing.
func TestShardLoops(t *testing.T) {
	instant := doerFunc(func(context.Context, loadgen.Request, time.Time) loadgen.Record {
		return loadgen.Record{Status: 200, OutputTokens: 1}
	})
	run := func(c cell.Cell) ([]loadgen.Record, []int) {
		loop, desc := c.Loop()
		var asked []int
		var mu sync.Mutex
		recs, err := loop.Run(context.Background(), instant, func(_ context.Context, k int) loadgen.Request {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, k)
			return loadgen.Request{}
		}, nil)
		require.NoError(t, err, desc)
		return recs, asked
	}
	for _, burst := range []float64{1, 0.3} {
		c := cell.Cell{Rate: 4000, Burstiness: burst, MaxInFlight: 8, Requests: 23, Warmup: 6, Seed: 7}
		single, _ := run(c)
		require.Len(t, single, 29)
		for _, n := range []int{2, 3, 4} {
			var union []loadgen.Record
			for i := range n {
				c.Shard = cell.Shard{Index: i, Count: n}
				loop, desc := c.Loop()
				ol := loop.(loadgen.OpenLoop)
				assert.InDelta(t, 4000.0, ol.Rate, 0, "the whole cell's rate")
				assert.Equal(t, cell.Split(8, slices.Repeat([]int{1}, n))[i], ol.MaxInFlight, "max_in_flight split")
				assert.Contains(t, desc, fmt.Sprintf("shard %d of %d", i, n))
				recs, asked := run(c)
				sh := cell.ShareOf(c, c.Shard)
				warm := 0
				for _, r := range recs {
					assert.Equal(t, i, r.Index%n, "shard %d of %d sent arrival %d", i, n, r.Index)
					if r.Warmup {
						warm++
					}
				}
				assert.Equal(t, sh.Warmup+sh.Requests, len(recs), "shard %d of %d: its share", i, n)
				assert.Equal(t, sh.Warmup, warm, "shard %d of %d: its warmup arrivals", i, n)
				slices.Sort(asked)
				for j, r := range recs {
					assert.Equal(t, r.Index, asked[j], "request k is built for arrival k")
				}
				union = append(union, recs...)
			}
			c.Shard = cell.Shard{}
			slices.SortFunc(union, func(a, b loadgen.Record) int { return a.Index - b.Index })
			require.Len(t, union, len(single), "%d shards, burstiness %g", n, burst)
			for k := range single {
				assert.Equal(t, single[k].Index, union[k].Index)
				assert.Equal(t, single[k].Scheduled, union[k].Scheduled, "arrival %d of %d shards, burstiness %g", k, n, burst)
				assert.Equal(t, single[k].Warmup, union[k].Warmup, "arrival %d of %d shards", k, n)
			}
		}
	}
	c := cell.Cell{Rate: 40, Requests: 20, Seed: 7}
	whole, _ := c.Loop()
	assert.Equal(t, loadgen.ScheduleSeed(7, 40, 0), whole.(loadgen.OpenLoop).Seed, "unsharded: the seed of before")
	c.Shard = cell.Shard{Index: 1, Count: 2}
	half, _ := c.Loop()
	assert.Equal(t, loadgen.ScheduleSeed(7, 40, 0), half.(loadgen.OpenLoop).Seed, "a shard: the same schedule")

	conc := cell.Cell{Concurrency: 2, Requests: 8, Warmup: 2, Shard: cell.Shard{Index: 3, Count: 4}}
	loop, desc := conc.Loop()
	recs, err := loop.Run(context.Background(), nil, nil, nil)
	require.NoError(t, err)
	assert.Empty(t, recs)
	assert.Contains(t, desc, "nothing")
}

// A shard of a closed-loop cell keeps its share in flight at the server.
func TestShardClosedLoopAgainstSim(t *testing.T) {
	l, err := sim.Listen(t.Context(), "127.0.0.1:0", sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}})
	require.NoError(t, err)
	defer l.Close()
	var mu sync.Mutex
	var prompts []string
	var progress strings.Builder
	c := simtest.Client(t, l.URL, "m", 8)
	cl := cell.Cell{Engine: "sim", Concurrency: 10, Workload: "short", Prompts: []string{"A"}, MaxTokens: 4, Requests: 40, Warmup: 10,
		Shard: cell.Shard{Index: 1, Count: 4}}
	recs, sum, err := cell.Run(context.Background(), doerFunc(func(ctx context.Context, r loadgen.Request, e time.Time) loadgen.Record {
		mu.Lock()
		prompts = append(prompts, r.Prompt)
		mu.Unlock()
		return c.Do(ctx, r, e)
	}), cl, cell.NewShardSalter(1, cl.Shard), nil, &progress)
	require.NoError(t, err)
	assert.Len(t, recs, 12+3, "shard 1 of 4 of conc 10: 3 slots, 12 requests and 3 warmup")
	assert.Contains(t, progress.String(), "engine=sim/conc=10/workload=short: 12 requests (+3 warmup) at concurrency 3, shard 1 of 4\n")
	assert.Contains(t, progress.String(), "engine=sim/conc=10/workload=short: 12 requests (+3 warmup) in ")
	assert.Equal(t, 12, sum.Requests)
	assert.Equal(t, 3, sum.PeakInFlight)
	assert.Equal(t, 3, cl.Conns())
	for _, p := range prompts {
		var n int
		_, err := fmt.Sscanf(p, "[infbench 1-%d]", &n)
		require.NoError(t, err, p)
		assert.Equal(t, 2, n%4, "shard 1 of 4 salts with 4k+2: %q", p)
	}
}

// openSpy is a Source that records what a cell opens it with.
type openSpy struct{ got *cell.Open }

func (s openSpy) Open(_ context.Context, o cell.Open) (cell.Requests, error) {
	*s.got = o
	return spyRequests{}, nil
}
func (openSpy) Describe() string     { return "spy" }
func (openSpy) ClosedLoopOnly() bool { return false }
func (openSpy) MaxSeqTokens() int    { return 1 }

type spyRequests struct{}

func (spyRequests) Request(context.Context, int) loadgen.Request {
	return loadgen.Request{Prompt: "x", MaxTokens: 1}
}
func (spyRequests) Done(loadgen.Record) {}
func (spyRequests) InputTokens() string { return "" }

// A shard's workload is opened for its share, with a seed of its own
// (for what each shard draws for itself, such as multi-turn sessions)
// and the run's seed and its shard (for what the shards draw as one, a
// dataset's sample, lengths by run-wide index); a whole cell's with the
// run's seed.
func TestShardOpensItsShare(t *testing.T) {
	c := simtest.Client(t, simtest.Start(t, sim.Config{Model: "m", Timing: sim.Linear{Base: time.Millisecond}}), "m", 4)
	seeds := map[uint64]bool{}
	for i := range 2 {
		var got cell.Open
		cl := cell.Cell{Engine: "sim", Concurrency: 8, Workload: "spy", Source: openSpy{&got}, Requests: 16, Warmup: 8, Seed: 9,
			Shard: cell.Shard{Index: i, Count: 2}}
		_, _, err := cell.Run(context.Background(), c, cl, cell.NewShardSalter(9, cl.Shard), nil, nil)
		require.NoError(t, err)
		assert.Equal(t, 12, got.Total, "8 measured + 4 warmup")
		assert.Equal(t, 4, got.Concurrency)
		assert.Equal(t, uint64(9), got.RunSeed, "the run's seed, the same on every shard")
		assert.Equal(t, cell.NumberingOf(cl, cl.Shard), got.Numbering)
		assert.Equal(t, 4*i, got.Numbering.At(0), "shard 1's warmup after shard 0's 4")
		assert.Equal(t, 8+8*i, got.Numbering.At(4), "shard 1's measured requests after shard 0's 8, both after all 8 warmups")
		assert.Equal(t, cl.Name(), got.Cell)
		seeds[got.Seed] = true
	}
	assert.Len(t, seeds, 2)
	var got cell.Open
	cl := cell.Cell{Engine: "sim", Concurrency: 8, Workload: "spy", Source: openSpy{&got}, Requests: 16, Warmup: 8, Seed: 9}
	_, _, err := cell.Run(context.Background(), c, cl, cell.NewSalter(9), nil, nil)
	require.NoError(t, err)
	assert.Equal(t, cell.Open{Salts: got.Salts, Total: 24, Seed: 9, Concurrency: 8, RunSeed: 9, Cell: cl.Name()}, got)
}

// A prompt category's shards together send the texts one process sends:
// request i of shard s takes the text of its run-wide index.
func TestShardedPromptsSendOneProcessTexts(t *testing.T) {
	p := cell.Prompts{Texts: []string{"a", "b", "c", "d"}, MaxTokens: 4}
	texts := func(o cell.Open, n int) []string {
		r, err := p.Open(context.Background(), o)
		require.NoError(t, err)
		var out []string
		for i := range n {
			q := r.Request(context.Background(), i)
			out = append(out, q.Prompt[strings.Index(q.Prompt, "\n")+1:])
		}
		return out
	}
	// Concurrency 5 on 2 shards: shares of 3 and 2, of 10 requests 6
	// and 4 (numbered k·2 + i, as before, the shards sent a, c, a, c, a,
	// c and b, d, b, d: three c's where one process sends two).
	c := cell.Cell{Concurrency: 5, Requests: 10}
	one := texts(cell.Open{Salts: cell.NewSalter(1), Concurrency: 5, Total: 10}, 10)
	var both []string
	for s := range 2 {
		sh := cell.Shard{Index: s, Count: 2}
		share := cell.ShareOf(c, sh)
		both = append(both, texts(cell.Open{Salts: cell.NewShardSalter(1, sh), Concurrency: share.Concurrency, Total: share.Requests,
			Numbering: cell.NumberingOf(c, sh)}, share.Requests)...)
	}
	assert.ElementsMatch(t, one, both)
	assert.Equal(t, []string{"a", "b", "c", "d", "a", "b"}, both[:6], "shard 0 takes indices 0 to 5")
}

// The shards of a closed-loop cell number its requests exactly as one
// process does, 0 … Warmup+Requests−1, each once, warmups below Warmup
// and measured ones from it, whatever the split; their sessions never
// share a number; an open-loop shard's j-th arrival is j·Count + Index.
func TestShardsNumberOneProcessRequests(t *testing.T) {
	for _, c := range []cell.Cell{
		{Concurrency: 8, Requests: 16, Warmup: 8},
		{Concurrency: 5, Requests: 10},
		{Concurrency: 5, Requests: 10, Warmup: 3},
		{Concurrency: 7, Requests: 101, Warmup: 13},
		{Concurrency: 3, Requests: 9, Warmup: 2}, // 4 shards: one empty share
		{Concurrency: 4, Requests: 1, Warmup: 2}, // a share of slots but no measured request: no warmup either
	} {
		for _, n := range []int{2, 3, 4} {
			seen := map[int]int{}
			sessions := map[int]int{}
			for i := range n {
				sh := cell.Shard{Index: i, Count: n}
				share, num := cell.ShareOf(c, sh), cell.NumberingOf(c, sh)
				if share.Requests == 0 {
					assert.Zero(t, share.Warmup, "%+v on %d shards: shard %d sends nothing (Loop), so its share has no warmup", c, n, i)
				}
				for j := range share.Warmup + share.Requests {
					g := num.At(j)
					assert.Equal(t, g, num.Index(j), "a closed loop asks for its own j")
					assert.Equal(t, j, num.Local(j))
					prev, dup := seen[g]
					require.False(t, dup, "%+v on %d shards: index %d of shard %d already shard %d's", c, n, g, i, prev)
					seen[g] = i
					assert.Equal(t, j < share.Warmup, g < c.Warmup, "%+v on %d shards: shard %d's request %d (index %d) warmup?", c, n, i, j, g)
				}
				// A shard may number more sessions than it sends requests.
				for k := 1; k <= 3*(c.Warmup+c.Requests+c.Concurrency); k++ {
					s := num.Session(k)
					prev, dup := sessions[s]
					require.False(t, dup, "session %d of shard %d already shard %d's", s, i, prev)
					sessions[s] = i
				}
			}
			for g := range c.Warmup + c.Requests {
				_, ok := seen[g]
				assert.True(t, ok, "%+v on %d shards: no shard sends request %d", c, n, g)
			}
			assert.Len(t, seen, c.Warmup+c.Requests)
		}
	}
	whole := cell.NumberingOf(cell.Cell{Concurrency: 4, Requests: 8}, cell.Shard{})
	assert.Equal(t, cell.Numbering{}, whole, "unsharded: the identity")
	open := cell.NumberingOf(cell.Cell{Rate: 10, Requests: 8}, cell.Shard{Index: 1, Count: 3})
	assert.Equal(t, []int{1, 4, 7}, []int{open.At(0), open.At(1), open.At(2)})
	assert.Equal(t, 7, open.Index(7), "an open-loop shard is asked for its arrivals' indices")
	assert.Equal(t, 2, open.Local(7))
}

// With a ramp, the shards' workers start, together, at the single
// process's workers' times Ramp·g/C, g = 0 … C−1, for even and uneven
// splits alike: shard i after StartDelay, its worker w after its own
// loop's ramp spread over its share.
func TestShardRampsStartOneProcessWorkers(t *testing.T) {
	const ramp = 10 * time.Second
	for _, conc := range []int{8, 5, 7, 3} {
		for _, n := range []int{2, 3} {
			var got []time.Duration
			for i := range n {
				c := cell.Cell{Concurrency: conc, Requests: 100, Warmup: 10, Ramp: ramp, Shard: cell.Shard{Index: i, Count: n}}
				loop, _ := c.Loop()
				cl, ok := loop.(loadgen.ClosedLoop)
				require.True(t, ok, "%T", loop)
				for w := range cl.Concurrency {
					got = append(got, c.StartDelay()+time.Duration(int64(cl.Ramp)*int64(w)/int64(cl.Concurrency)))
				}
			}
			slices.Sort(got)
			require.Len(t, got, conc)
			for g, at := range got {
				assert.InDelta(t, float64(ramp)*float64(g)/float64(conc), float64(at), 2, "concurrency %d on %d shards: start %d", conc, n, g)
			}
		}
	}
}
