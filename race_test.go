//go:build race

package infbench_test

// raceEnabled: the race detector slows every goroutine several-fold, and
// four instrumented client processes far more than one, so comparisons
// of latency between them are not made under it.
const raceEnabled = true
