package loadgen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// OpenLoop sends requests at precomputed absolute times, whatever the
// server does: arrivals at Rate requests/s with gamma-distributed gaps of
// shape Burstiness (1 is a Poisson process; below 1 burstier, above 1
// more regular). A request whose time has come while MaxInFlight are
// already in flight waits for a slot; its latency is then measured from
// its scheduled time as well as from its actual send (Record.Scheduled),
// so a slow server cannot hide its queueing by slowing the client down
// (no coordinated omission).
type OpenLoop struct {
	Rate        float64 // requests per second
	Burstiness  float64 // gamma shape; 0 means 1 (Poisson)
	Warmup      int     // first requests, excluded from the summary
	Requests    int     // measured requests
	MaxInFlight int     // cap on concurrent requests (connections); 0 means 1024
	Seed        uint64  // schedule seed: the same seed gives the same schedule (see ScheduleSeed)
	// GiveUpAfter is the give-up rule, as for ClosedLoop; 0 looks at
	// MaxInFlight clamped to 2..8.
	GiveUpAfter int
	// Shard and Shards make the loop one of Shards processes that offer
	// one schedule together: it sends only the arrivals k of the whole
	// schedule (Warmup+Requests of them, at Rate) with k mod Shards =
	// Shard, at their times in it, and its records keep k as Index and
	// are warmup when k < Warmup. The shards' arrivals together are then
	// exactly one process's, whatever the burstiness. Shards below 2: the
	// loop sends every arrival.
	Shard, Shards int
}

// Mine returns the indices k of the schedule's arrivals this loop sends,
// in order: all of them, or for a shard those with k mod Shards = Shard.
func (l OpenLoop) Mine() []int {
	n := l.Warmup + l.Requests
	step, first := 1, 0
	if l.Shards > 1 {
		step, first = l.Shards, l.Shard
	}
	var out []int
	for k := first; k < n; k += step {
		out = append(out, k)
	}
	return out
}

// ScheduleSeed is the schedule seed of an open-loop cell: a function of
// the run's seed, the rate and the repetition (the -count iteration) only,
// so that every engine at that rate and repetition is offered the very
// same arrivals, while repetitions sample different ones.
func ScheduleSeed(runSeed uint64, rate float64, rep int) uint64 {
	x := runSeed
	for _, v := range []uint64{math.Float64bits(rate), uint64(rep)} {
		x = splitmix(x ^ splitmix(v))
	}
	return x
}

// splitmix is the SplitMix64 finaliser: a bijective mixing of 64 bits.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// Validate reports a loop that cannot run.
func (l OpenLoop) Validate() error {
	switch {
	case !(l.Rate > 0) || math.IsInf(l.Rate, 0):
		return fmt.Errorf("rate %v: must be a positive number of requests per second", l.Rate)
	case !(l.Burstiness >= 0) || math.IsInf(l.Burstiness, 0):
		return fmt.Errorf("burstiness %v: must be positive (1 is Poisson)", l.Burstiness)
	case l.Requests < 1:
		return fmt.Errorf("requests %d: must be at least 1", l.Requests)
	case l.Warmup < 0:
		return fmt.Errorf("warmup %d: must not be negative", l.Warmup)
	case l.Shards > 1 && (l.Shard < 0 || l.Shard >= l.Shards):
		return fmt.Errorf("shard %d of %d: want 0 ≤ shard < shards", l.Shard, l.Shards)
	}
	return nil
}

// Schedule returns the send offsets of all Warmup+Requests requests, from
// the start of the run. The first request is sent at once.
func (l OpenLoop) Schedule() []time.Duration {
	shape := l.Burstiness
	if shape == 0 {
		shape = 1
	}
	rng := rand.New(rand.NewPCG(l.Seed, 0x1f8ec0de))
	n := l.Warmup + l.Requests
	out := make([]time.Duration, n)
	var t float64 // seconds
	for i := 1; i < n; i++ {
		// Gamma(shape, θ) with mean shape·θ = 1/rate.
		t += gamma(rng, shape) / (shape * l.Rate)
		out[i] = time.Duration(t * float64(time.Second))
	}
	return out
}

// gamma draws from Gamma(shape, 1) (Marsaglia and Tsang, 2000; for
// shape < 1, the boost X·U^(1/shape)).
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Run drives d with the loop; request and sink are as for ClosedLoop.Run,
// request called with the arrival's index k in the whole schedule (for a
// shard, k mod Shards = Shard). Records carry Scheduled, their planned
// send offset. When ctx is
// cancelled no new request starts and the ones in flight end with
// ErrorKind KindCanceled; so they do when the give-up rule stops the run
// (a *HopelessError).
func (l OpenLoop) Run(ctx context.Context, d Doer, request func(ctx context.Context, i int) Request, sink func(Record)) ([]Record, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	sched, mine := l.Schedule(), l.Mine()
	warm := 0 // this loop's warmup arrivals: the first of mine, k < Warmup
	for warm < len(mine) && mine[warm] < l.Warmup {
		warm++
	}
	limit := l.MaxInFlight
	if limit <= 0 {
		limit = 1024
	}
	slots := make(chan struct{}, limit)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	col := newCollector(len(mine), warm, sink, giveUpAfter(l.GiveUpAfter, limit, len(sched)), stop)
	var (
		wg    sync.WaitGroup
		epoch = time.Now()
		timer = time.NewTimer(0)
	)
	defer timer.Stop()
	<-timer.C
dispatch:
	for j, k := range mine {
		at := sched[k]
		if ctx.Err() != nil {
			break
		}
		if wait := time.Until(epoch.Add(at)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break dispatch
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break dispatch
		}
		wg.Add(1)
		go func(j, k int) {
			defer wg.Done()
			defer func() { <-slots }()
			rec := d.Do(ctx, request(ctx, k), epoch)
			rec.Paced, rec.Scheduled = true, sched[k]
			col.addAs(ctx, j, k, rec)
		}(j, k)
	}
	wg.Wait()
	return col.result(ctx)
}
