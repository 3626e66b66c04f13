// Command infbench works on the results folders that `go test -bench`
// writes (see package resultsdir).
//
//	go run ./cmd/infbench report [-img docs/img] <results dir>
//
// report recomputes every cell's summary from requests.jsonl, rewrites
// summary.json, and renders the charts (PNG and SVG), report.md and
// summary.csv in the folder (README.md, "Reading the report"). -img also copies the PNG charts to a folder, e.g. docs/img for
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

report recomputes summary.json from requests.jsonl and writes the charts,
report.md and summary.csv into the results folder.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code := exitCode(run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a command line run cannot act on; the usage is already
// printed. It matches flag.ErrHelp. An empty reason adds nothing to the
// usage.
type usageError struct{ reason string }

func (e usageError) Error() string {
	if e.reason == "" {
		return flag.ErrHelp.Error()
	}
	return e.reason
}

func (e usageError) Is(target error) bool { return target == flag.ErrHelp }

// exitCode reports err on stderr and returns the process's exit status: 0,
// 2 for a usage error (its usage is already printed, so only a reason, if
// any, is added), 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		if ue.reason != "" {
			fmt.Fprintln(stderr, "infbench:", ue.reason)
		}
		return 2
	case errors.Is(err, flag.ErrHelp): // -h: the flag package printed the usage
		return 2
	}
	fmt.Fprintln(stderr, "infbench:", err)
	return 1
}

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "report" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return usageError{}
		}
		return usageError{fmt.Sprintf("unknown subcommand %q (want report)", args[0])}
	}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	img := fs.String("img", "", "also copy the PNG charts to this folder (e.g. docs/img)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{} // the flag package printed the error and the usage
	}
	switch fs.NArg() {
	case 1:
	case 0:
		fs.Usage()
		return usageError{}
	default:
		fs.Usage()
		return usageError{fmt.Sprintf("report: want one results folder, got %d arguments", fs.NArg())}
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
