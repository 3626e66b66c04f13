package merge

import (
	"fmt"
	"strings"

	"github.com/infbench/infbench/resultsdir"
)

// giveUpPrefix starts the flag cell.Run adds to a cell's summary when
// the give-up rule stopped it: loadgen.HopelessError's message
// (loadgen/collect.go), which report.Recompute cannot restore from the
// records.
const giveUpPrefix = "stopped early:"

// shardNotes is what the shards' summary.json say of cell run k that
// the records do not: how its input lengths were made
// (Summary.InputTokens), and each shard's give-up flag, named by shard.
// Shards with an empty share open no workload and say nothing of input
// lengths; where the others disagree, shard 0's (the first that says)
// is kept and a flag names every shard's.
func shardNotes(shards []*folder, k resultsdir.Key) (inputTokens string, flags []string) {
	var said []string // "shard i: how"
	disagree := false
	for i, f := range shards {
		for _, c := range f.sums.Cells {
			if c.Key != k {
				continue
			}
			if how := c.Summary.InputTokens; how != "" {
				if inputTokens == "" {
					inputTokens = how
				}
				disagree = disagree || how != inputTokens
				said = append(said, fmt.Sprintf("shard %d: %s", i, how))
			}
			for _, fl := range c.Summary.Flags {
				if strings.HasPrefix(fl, giveUpPrefix) {
					flags = append(flags, fmt.Sprintf("shard %d %s", i, fl))
				}
			}
		}
	}
	if disagree {
		flags = append(flags, fmt.Sprintf("the shards made input lengths differently (%s): the merged lengths mix them", strings.Join(said, "; ")))
	}
	return inputTokens, flags
}
