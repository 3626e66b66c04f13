// Command infbench works on the results folders that `go test -bench`
// writes (see package resultsdir).
//
//	go run ./cmd/infbench report [-img docs/img] <results dir>
//
// report recomputes every cell's summary from requests.jsonl, rewrites
// summary.json, and renders the charts (PNG and SVG) and report.md in the
// folder. -img also copies the PNG charts to a folder, e.g. docs/img for
// the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/infbench/infbench/report"
)

const usage = `usage: infbench report [-img dir] <results dir>

report recomputes summary.json from requests.jsonl and writes the charts
and report.md into the results folder.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "infbench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "report" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("want a subcommand: %w", flag.ErrHelp)
	}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	img := fs.String("img", "", "also copy the PNG charts to this folder (e.g. docs/img)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("report: want one results folder, got %d arguments: %w", fs.NArg(), flag.ErrHelp)
	}
	dir := fs.Arg(0)
	opts := []report.Option{report.WithLog(stderr)}
	if *img != "" {
		opts = append(opts, report.WithImageDir(*img))
	}
	if err := report.Rebuild(ctx, dir, opts...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, filepath.Join(dir, report.ReportFile))
	return nil
}
