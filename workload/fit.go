package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/loadgen"
)

// words is the filler vocabulary of generated inputs: common English
// words, so that a real tokenizer splits them as it would prose.
var words = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has would when if so no
what can more out up into some time could about than them only other new very then first any these may
over such our like two most after where well way many even because through being long little great
world right still find here thing every same another good place between under while last never small`)

// bytesPerToken is the estimate used where the engine has no tokenize
// route: the simulator's own rule (engines/sim/server.go PromptTokens,
// (len+3)/4), roughly right for English with a BPE tokenizer.
const bytesPerToken = 4

// fitter makes texts of exactly n tokens: with the engine's tokenizer
// where it has one, else estimated at bytesPerToken. It remembers what it
// fitted (per lead text and length), so a run asks the engine once per
// distinct length.
type fitter struct {
	tok    cell.Tokenizer // nil: estimate
	filler string         // a long text of filler words
	memo   map[fitKey]string
	// why is the reason lengths are estimated, when they are.
	why string
	// missed counts texts the tokenizer could not be made to count
	// exactly n (the closest was used).
	missed int
}

type fitKey struct {
	lead string
	n    int
}

func newFitter(tok cell.Tokenizer, rng *rand.Rand, maxTokens int) *fitter {
	var b strings.Builder
	for b.Len() < 2*bytesPerToken*maxTokens+64 { // room for one word per token
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	f := &fitter{tok: tok, filler: b.String(), memo: map[fitKey]string{}}
	if tok == nil {
		f.why = "the engine has no tokenize route (tokenize: in engines.yaml)"
	}
	return f
}

// InputTokens says how lengths were made, for the cell summary.
func (f *fitter) InputTokens() string {
	s := ""
	if f.tok != nil {
		s = "tokenized by POST " + f.tok.Tokenizer()
	} else {
		s = fmt.Sprintf("estimated (%d bytes per token: %s)", bytesPerToken, f.why)
	}
	if f.missed > 0 {
		s += fmt.Sprintf("; %d texts could not be made exactly their length (the closest was sent)", f.missed)
	}
	return s
}

// fit returns lead followed by filler such that the whole counts n tokens
// (lead is not cut: a lead of more than n tokens is returned alone).
func (f *fitter) fit(ctx context.Context, lead string, n int) (string, error) {
	k := fitKey{lead, n}
	if s, ok := f.memo[k]; ok {
		return s, nil
	}
	s, err := f.fitNew(ctx, lead, n)
	if err != nil {
		return "", err
	}
	f.memo[k] = s
	return s, nil
}

func (f *fitter) fitNew(ctx context.Context, lead string, n int) (string, error) {
	if f.tok != nil {
		s, err := f.fitTokenizer(ctx, lead, n)
		if !errors.Is(err, loadgen.ErrNoTokenizer) {
			return s, err
		}
		// The route is configured but not served: estimate from now on.
		f.tok, f.why = nil, err.Error()
	}
	want := bytesPerToken*n - len(lead)
	if want <= 0 {
		if want < 0 {
			f.missed++ // the lead alone is longer
		}
		return lead, nil
	}
	return lead + f.text(want), nil
}

// text is the first n bytes of the filler (n ≤ its length).
func (f *fitter) text(n int) string { return f.filler[:min(n, len(f.filler))] }

// fitTokenizer searches the number of filler bytes, cut at word ends,
// whose text counts n tokens: a binary search over word boundaries for
// the shortest text of at least n tokens, then, where its last word
// overshoots, the longest prefix of that word that does not.
func (f *fitter) fitTokenizer(ctx context.Context, lead string, n int) (string, error) {
	count := func(s string) (int, error) { return f.tok.Tokenize(ctx, s) }
	c0, err := count(lead)
	if err != nil {
		return "", err
	}
	if c0 >= n {
		if c0 > n {
			f.missed++
		}
		return lead, nil
	}
	// Word ends of the filler, up to n words (each at least a token).
	var ends []int
	for i := 0; i < len(f.filler) && len(ends) < n; i++ {
		if f.filler[i] == ' ' {
			ends = append(ends, i)
		}
	}
	ends = append(ends, len(f.filler))
	at := func(j int) string { return lead + f.filler[:ends[j]] }
	lo, hi := 0, len(ends)-1 // count(at(hi)) ≥ n is assumed, checked below
	ch, err := count(at(hi))
	if err != nil {
		return "", err
	}
	if ch < n {
		f.missed++
		return at(hi), nil
	}
	for lo < hi {
		mid := (lo + hi) / 2
		c, err := count(at(mid))
		if err != nil {
			return "", err
		}
		if c >= n {
			hi, ch = mid, c
		} else {
			lo = mid + 1
		}
	}
	if ch == n {
		return at(hi), nil
	}
	// The last word overshoots: cut it short, then pad with single letters.
	start := 0
	if hi > 0 {
		start = ends[hi-1]
	}
	best := lead
	if hi > 0 {
		best = at(hi - 1)
	}
	for cut := ends[hi] - 1; cut > start; cut-- {
		s := lead + f.filler[:cut]
		c, err := count(s)
		if err != nil {
			return "", err
		}
		if c == n {
			return s, nil
		}
		if c < n {
			best = s
			break
		}
	}
	for range 8 {
		s := best + " a"
		c, err := count(s)
		if err != nil {
			return "", err
		}
		if c == n {
			return s, nil
		}
		if c > n {
			break
		}
		best = s
	}
	f.missed++
	return best, nil
}
