//go:build race

package loadgen

// raceEnabled: the race detector slows every goroutine several-fold, so
// timing-accuracy tests skip under it.
const raceEnabled = true
