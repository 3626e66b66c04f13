package infbench

import (
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/infbench/infbench/cell"
	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
)

// checkEngines refuses a -bench pattern that selects BenchmarkServe but
// none of the engines this build runs, saying which exist and how to get
// the one named.
func checkEngines(pattern string, s *Suite, getenv func(string) string) error {
	build := s.Engines()
	for _, e := range build {
		if selectsEngine(pattern, e.Name) {
			return nil
		}
	}
	var elsewhere []string
	for _, e := range s.Run.Engines {
		if !slices.ContainsFunc(build, func(x config.Engine) bool { return x.Name == e.Name }) && selectsEngine(pattern, e.Name) {
			elsewhere = append(elsewhere, e.Name)
		}
	}
	have := strings.Join(engineNames(build), ", ")
	if have == "" {
		have = "none"
	}
	switch {
	case getenv(config.EnvTarget) != "":
		return fmt.Errorf("-bench=%s selects no engine of this run: %s is set, so the only engine is external (use -bench=Serve/engine=external, or unset %s)",
			pattern, config.EnvTarget, config.EnvTarget)
	case len(elsewhere) > 0 && !engines.GPUBuild:
		return fmt.Errorf("-bench=%s selects %s, container engines that run only with -tags=gpu: go test -tags=gpu -run='^$' -bench='%s' -timeout 0 . (this build runs: %s)",
			pattern, strings.Join(elsewhere, ", "), pattern, have)
	case len(elsewhere) > 0:
		return fmt.Errorf("-bench=%s selects %s, which runs only without -tags=gpu (this build runs: %s)", pattern, strings.Join(elsewhere, ", "), have)
	}
	return fmt.Errorf("-bench=%s selects no engine of %s: it has %s, and this build runs %s (container engines need -tags=gpu, the simulator runs without it)",
		pattern, s.RunFile, strings.Join(engineNames(s.Run.Engines), ", "), have)
}

func engineNames(es []config.Engine) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func loads(s *Suite) string {
	var parts []string
	for _, c := range s.Run.Concurrency {
		parts = append(parts, fmt.Sprint("conc=", c))
	}
	for _, r := range s.Run.Rates {
		parts = append(parts, cell.RateLoad(r))
	}
	if s.Run.Sweep.Enabled {
		parts = append(parts, SweepLevel)
	}
	return strings.Join(parts, "|")
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// selectsServe reports whether the -bench pattern runs BenchmarkServe,
// matching as the testing package does: alternatives split on a top-level
// '|', levels on '/', each level an unanchored regular expression.
func selectsServe(pattern string) bool {
	for _, levels := range benchLevels(pattern) {
		if matches(levels, 0, "BenchmarkServe") {
			return true
		}
	}
	return false
}

// selectsEngine reports whether the pattern runs BenchmarkServe/engine=name.
func selectsEngine(pattern, name string) bool {
	for _, levels := range benchLevels(pattern) {
		if matches(levels, 0, "BenchmarkServe") && matches(levels, 1, "engine="+name) {
			return true
		}
	}
	return false
}

func matches(levels []string, i int, name string) bool {
	if i >= len(levels) || levels[i] == "" {
		return true
	}
	re, err := regexp.Compile(levels[i])
	return err == nil && re.MatchString(name)
}

// benchLevels splits a -bench pattern as the testing package does.
func benchLevels(pattern string) [][]string {
	var out [][]string
	for _, alt := range splitTop(pattern, '|') {
		out = append(out, splitTop(alt, '/'))
	}
	return out
}

// splitTop splits s on sep outside brackets and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	cs, cp, start := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			cs++
		case ']':
			if cs > 0 {
				cs--
			}
		case '(':
			if cs == 0 {
				cp++
			}
		case ')':
			if cs == 0 && cp > 0 {
				cp--
			}
		case '\\':
			i++
		case sep:
			if cs == 0 && cp == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}
