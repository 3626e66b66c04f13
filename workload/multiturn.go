package workload

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/loadgen"
)

// MultiTurn is a multi-turn workload: sessions of Turns turns. Turn k
// sends the conversation so far — for chat, the messages user, assistant,
// user, … with the model's actual answers as it streamed them; for
// completions, the previous turn's prompt followed at once by its answer
// exactly as streamed (so the text the engine cached while generating it
// is a prefix of the next prompt), then a blank line — then a new user message of
// InputTokens tokens, asking for OutputTokens. The next turn of a session
// is built only once its previous answer has arrived and ThinkTime has
// passed. The salt is per session, at the start of its first message, so
// turn k+1 may find turn k's conversation in a prefix cache but no
// session finds another's. At concurrency C, C sessions are in progress;
// a session whose turn fails ends there and a new one starts. Closed
// loop only.
type MultiTurn struct{ Spec config.WorkloadSpec }

// Open prepares the session pool. Message texts are fitted per length,
// as for a synthetic workload, with the first message's salt included.
func (m MultiTurn) Open(ctx context.Context, o cell.Open) (cell.Requests, error) {
	if o.Concurrency < 1 {
		return nil, fmt.Errorf("multi_turn needs a closed loop (a concurrency)")
	}
	w := m.Spec
	rng := newRand(o.Seed, w.Name)
	r := &turnRequests{spec: w, ctx: ctx, salts: o.Salts, ready: make(chan *session, o.Concurrency),
		live: map[int]*session{}}
	// Lengths are drawn in advance, per session and turn, so that the
	// draws do not depend on the order answers arrive in.
	sessions := o.Total/w.Turns + o.Concurrency + 1
	for range sessions * w.Turns {
		r.ins = append(r.ins, draw(w.InputTokens, rng))
		r.outs = append(r.outs, draw(w.OutputTokens, rng))
	}
	r.f = newFitter(o.Tokenizer, rng, slices.Max(r.ins))
	// Fit every message length now, before the clock starts: Request
	// then finds them fitted.
	for k, n := range r.ins {
		lead := ""
		if k%w.Turns == 0 {
			lead = cell.FixedSaltTemplate
		}
		if _, err := r.f.fit(ctx, lead, n); err != nil {
			return nil, err
		}
	}
	for range o.Concurrency {
		r.start()
	}
	return r, nil
}

// Describe gives turns, think time and lengths.
func (m MultiTurn) Describe() string {
	w := m.Spec
	return fmt.Sprintf("multi_turn: %d turns, think time %v, input %s, output %s tokens per turn (closed loop only, salted per session)",
		w.Turns, w.ThinkTime, w.InputTokens, w.OutputTokens)
}

// ClosedLoopOnly is true: a turn waits for the previous answer.
func (MultiTurn) ClosedLoopOnly() bool { return true }

// MaxSeqTokens is the whole conversation: every turn's input and output.
func (m MultiTurn) MaxSeqTokens() int {
	w := m.Spec
	return w.Turns*(w.InputTokens.Upper()+w.OutputTokens.Upper()+8) + 32
}

type session struct {
	id   int // 1-based
	turn int // the next turn to send, 1-based
	msgs []loadgen.Message
	// prompt is the completions prompt: the last one sent, and once its
	// answer has arrived, that answer appended with nothing between.
	prompt string
	first  int       // index of its lengths in ins/outs
	at     time.Time // when its next turn may be sent (the think time's end)
}

type turnRequests struct {
	spec  config.WorkloadSpec
	ctx   context.Context // the Open's: fitting texts
	salts *cell.Salter
	f     *fitter
	ins   []int
	outs  []int
	ready chan *session // sessions whose next turn may be sent

	mu   sync.Mutex
	n    int // sessions started
	live map[int]*session
	err  error // the first fitting error
}

// start begins a new session and makes its first turn ready.
func (r *turnRequests) start() {
	r.mu.Lock()
	r.n++
	s := &session{id: r.n, turn: 1, first: ((r.n - 1) * r.spec.Turns) % len(r.ins)}
	r.live[s.id] = s
	r.mu.Unlock()
	r.ready <- s
}

// message is a new user message of n tokens, led by lead.
func (r *turnRequests) message(lead string, n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.f.fit(r.ctx, lead, n)
	if err != nil && r.err == nil {
		r.err = err
	}
	return t
}

// Request waits for a session whose next turn is ready and builds it.
func (r *turnRequests) Request(ctx context.Context, _ int) loadgen.Request {
	var s *session
	select {
	case s = <-r.ready:
	case <-ctx.Done():
		return loadgen.Request{MaxTokens: 1} // canceled at once by Do
	}
	// The think time is waited here, under the loop's ctx: when the loop
	// stops (ctx done, or the give-up rule), the wait ends at once and
	// its timer is stopped, so no timer outlives the cell.
	if wait := time.Until(s.at); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return loadgen.Request{MaxTokens: 1} // canceled at once by Do
		}
	}
	k := s.first + s.turn - 1
	if s.turn == 1 {
		text := r.message(cell.FixedSaltTemplate, r.ins[k])
		s.msgs = []loadgen.Message{{Role: "user", Content: r.salts.NextFixed() + text[len(cell.FixedSaltTemplate):]}}
		s.prompt = s.msgs[0].Content
	} else {
		m := r.message("", r.ins[k])
		s.msgs = append(s.msgs, loadgen.Message{Role: "user", Content: m})
		s.prompt += turnSeparator + m
	}
	msgs := append([]loadgen.Message(nil), s.msgs...)
	return loadgen.Request{Prompt: s.prompt, Messages: msgs, MaxTokens: r.outs[k], KeepText: true,
		Session: s.id, Turn: s.turn}
}

// turnSeparator stands between an answer and the next user message in a
// completions prompt. Nothing stands between a prompt and its answer: the
// model generated the answer right after the prompt, so the engine's
// cached blocks of prompt+answer match the next prompt up to the answer's
// end.
const turnSeparator = "\n\n"

// Done records a turn's answer and schedules the session's next turn
// after the think time, or ends the session (last turn, or a failure) and
// starts another.
func (r *turnRequests) Done(rec loadgen.Record) {
	r.mu.Lock()
	s, ok := r.live[rec.Session]
	r.mu.Unlock()
	if !ok || rec.Turn != s.turn {
		return
	}
	if !rec.OK() || s.turn == r.spec.Turns {
		r.mu.Lock()
		delete(r.live, s.id)
		r.mu.Unlock()
		r.start()
		return
	}
	s.msgs = append(s.msgs, loadgen.Message{Role: "assistant", Content: rec.Text})
	s.prompt += rec.Text
	s.turn++
	// Request waits out the think time; at most Concurrency sessions are
	// live, so ready has room.
	s.at = time.Now().Add(r.spec.ThinkTime)
	r.ready <- s
}

// InputTokens says how message lengths were made.
func (r *turnRequests) InputTokens() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.f.InputTokens() + " (each new user message; the conversation adds the earlier turns)"
	if r.err != nil {
		s += "; fitting failed: " + r.err.Error()
	}
	return s
}
