package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

// merge without -o or folders prints its usage (exit status 2); a folder
// that is not a shard's is refused by name (exit status 1).
func TestMergeCommandLine(t *testing.T) {
	for _, args := range [][]string{{"merge"}, {"merge", "-o", "out"}, {"merge", "a", "b"}} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || exitCode(err, &errOut) != 2 || !strings.Contains(errOut.String(), "usage: infbench merge -o") {
			t.Errorf("%v: err %v, stderr %q; want the merge usage and status 2", args, err, errOut.String())
		}
	}
	dir := measure(t) // an unsharded run's folder
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"merge", "-o", t.TempDir() + "/m", dir}, &out, &errOut)
	if err == nil || exitCode(err, &errOut) != 1 || !strings.Contains(errOut.String(), dir+": not the results folder of one shard") {
		t.Errorf("err %v, stderr %q; want %s refused as not a shard's folder, status 1", err, errOut.String(), dir)
	}
}
