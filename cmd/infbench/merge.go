package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/infbench/infbench/merge"
	"github.com/infbench/infbench/report"
)

const mergeUsage = `usage: infbench merge -o <merged dir> <shard dir>...

merge unites the results folders of the shards of one sharded run
(INFBENCH_SHARD=i/n) into one: requests.jsonl with each record's shard, on
one timeline; every summary recomputed from the raw records; report.md
and the charts; and bench.txt, which benchstat reads as one process's
output. Folders of different runs are refused, naming the difference; a
shard that has fewer records than its share is named, and the exit
status is 1 (the merge is written, its cells flagged).
`

// runMerge is the merge subcommand; args follow "merge".
func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mergeUsage); fs.PrintDefaults() }
	out := fs.String("o", "", "the merged results folder to create")
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return usageError{"merge: want -o <merged dir> and the shards' folders"}
	}
	if err := merge.Merge(ctx, *out, fs.Args(), stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(*out, report.ReportFile))
	fmt.Fprintln(stdout, filepath.Join(*out, merge.BenchFile))
	return nil
}
