//go:build !unix

package engines_test

import "testing"

// grantable keeps the spec's ulimits where this host's cannot be read.
func grantable(_ *testing.T, want map[string]int64) map[string]int64 { return want }
