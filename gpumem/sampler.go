package gpumem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Sampler reads a GPU every interval in its own goroutine until Stop is
// called or the context given to Start is done. It takes each sample with
// a reader and folds it into an accumulator, which makes the Summary.
type Sampler struct {
	g        *GPU
	r        *reader
	w        io.Writer // nil: samples not written (or no longer, after a failed write)
	start    time.Time
	baseline *uint64
	energy   energyCounter

	acc      accumulator
	stopping chan struct{}
	done     chan struct{}

	once sync.Once
	sum  Summary
}

// Start takes a first sample at once, then one every interval, until Stop
// or until ctx is done. Each sample is written to w (nil: not written) as
// one JSON line as soon as it is taken, so a run that is killed keeps what
// it had. w is written from the Sampler's goroutine only; a write error is
// counted in Summary.Errors and stops further writes. The energy counter is
// read here and in Stop. Stop must be called to get the Summary.
func (g *GPU) Start(ctx context.Context, w io.Writer) *Sampler {
	s := &Sampler{
		g:        g,
		r:        g.newReader(),
		w:        w,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	var open bool
	s.baseline, open = g.state()
	if !open {
		s.acc.addError(errors.New("gpumem: Start on a closed GPU: call Open again"))
		close(s.done)
		s.start = time.Now()
		return s
	}
	s.energy.start, s.energy.startOK = s.readEnergy()
	s.start = time.Now()
	go s.loop(ctx)
	return s
}

// loop takes a sample at once and then at every tick, until Stop or ctx.
func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.g.interval)
	defer t.Stop()
	for {
		s.take()
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-t.C:
		}
	}
}

// take reads one sample, writes it and adds it to the summary. Only one
// goroutine runs take at a time: the loop, then Stop after the loop ended.
func (s *Sampler) take() {
	sample, errs := s.r.read(s.start, time.Now())
	s.acc.add(sample)
	for _, err := range errs {
		s.acc.addError(err)
	}
	s.write(sample)
}

// write appends sample to w as one JSON line; after a failed write, no
// more samples are written.
func (s *Sampler) write(sample Sample) {
	if s.w == nil {
		return
	}
	if err := writeLine(s.w, sample); err != nil {
		s.acc.addError(fmt.Errorf("writing GPU sample: %w (further samples are not written)", err))
		s.w = nil
	}
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Stop ends sampling, takes a final sample, reads the energy counter and
// returns the Summary. It is idempotent: later calls return the same
// Summary. It waits at most for one NVML reading in progress.
func (s *Sampler) Stop() Summary {
	s.once.Do(func() {
		close(s.stopping)
		<-s.done
		s.sum = s.finish()
	})
	return s.sum
}

// finish takes the final sample and reads the energy counter, once the
// loop has ended, and makes the Summary.
func (s *Sampler) finish() Summary {
	if s.g.checkOpen() != nil {
		s.acc.addError(errors.New("gpumem: GPU closed before Sampler.Stop: stop samplers before GPU.Close"))
	} else {
		s.take()
	}
	end := time.Now()
	if s.energy.startOK && s.g.checkOpen() == nil {
		s.energy.end, s.energy.endOK = s.readEnergy()
	}
	return s.acc.summary(end.Sub(s.start), s.baseline, s.energy, s.r.unsupported)
}

// readEnergy reads the cumulative energy counter (mJ), counting a failure.
func (s *Sampler) readEnergy() (uint64, bool) {
	mj, ok, err := s.r.energy()
	if err != nil {
		s.acc.addError(err)
	}
	return mj, ok
}
