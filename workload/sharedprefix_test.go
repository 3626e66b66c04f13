package workload

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
)

func TestSharedPrefixGroups(t *testing.T) {
	var calls atomic.Int64
	tok := tokenizeServer(t, &calls)
	w := config.WorkloadSpec{Name: "sp", Kind: config.WorkloadSharedPrefix, Groups: 3, PrefixTokens: 120, SuffixTokens: 30,
		OutputTokens: config.Dist{Dist: config.DistFixed, Value: 8}}
	src, err := New(w, "")
	require.NoError(t, err)
	salts := cell.NewSalter(5)
	reqs, err := src.Open(context.Background(), cell.Open{Salts: salts, Tokenizer: tok, Total: 12, Seed: 5, Cell: "c1"})
	require.NoError(t, err)
	p := reqs.(*prefixRequests)
	prompts := make([]string, 12)
	for i := range prompts {
		prompts[i] = reqs.Request(context.Background(), i).Prompt
		n, err := tok.Tokenize(context.Background(), prompts[i])
		require.NoError(t, err)
		assert.Equal(t, 150, n, "prefix + suffix tokens")
		pn, err := tok.Tokenize(context.Background(), p.prefixes[i%3])
		require.NoError(t, err)
		assert.Equal(t, 120, pn, "the prefix alone")
	}
	for i := range prompts {
		for j := range prompts {
			if i == j {
				continue
			}
			common := commonPrefix(prompts[i], prompts[j])
			if i%3 == j%3 {
				// Same group: the whole prefix shared, then the request's own suffix.
				assert.GreaterOrEqual(t, common, len(p.prefixes[i%3]), "requests %d and %d share their group's prefix", i, j)
				assert.Less(t, common, len(prompts[i]))
			} else {
				// Different groups: they part inside the salt, its first line.
				assert.Less(t, common, strings.Index(prompts[i], "\n"), "requests %d and %d differ from the salt on", i, j)
			}
		}
	}
	// Another cell of the run (the same salter and seed, as in a real
	// run), its next repetition, or another run gets other salts: no
	// prefix carried over.
	for _, o := range []cell.Open{
		{Salts: salts, Tokenizer: tok, Total: 12, Seed: 5, Cell: "c2"},
		{Salts: salts, Tokenizer: tok, Total: 12, Seed: 5, Cell: "c1", Rep: 1},
		{Salts: cell.NewSalter(6), Tokenizer: tok, Total: 12, Seed: 5, Cell: "c1"},
	} {
		other, err := src.Open(context.Background(), o)
		require.NoError(t, err)
		assert.Less(t, commonPrefix(prompts[0], other.Request(context.Background(), 0).Prompt), strings.Index(prompts[0], "\n"), "%s rep %d", o.Cell, o.Rep)
	}
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
