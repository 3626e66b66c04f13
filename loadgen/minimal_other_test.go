//go:build !linux

package loadgen

import "context"

// minimalTTFTs: the minimal client reads kernel timestamps, which only
// Linux gives; elsewhere there is nothing to compare with.
func minimalTTFTs(context.Context, string, int) func() []minimalTTFT {
	return func() []minimalTTFT { return nil }
}
