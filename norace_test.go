//go:build !race

package infbench_test

const raceEnabled = false
