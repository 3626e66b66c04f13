package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/infbench/infbench/engines/sim"
)

const validRun = `api: chat
concurrency: [1, 10]
requests: {min: 16, per_concurrency: 4}
warmup: {min: 1, per_concurrency: 1}
timeouts: {stall: 60s, request: 10m, startup: 40m}
engines:
  - name: sim
    kind: sim
    model: m
    sim:
      max_batch: 64
      timing: {step_base: 4ms, per_sequence: 50us}
`

func TestParseRun(t *testing.T) {
	r, err := ParseRun("engines.yaml", []byte(validRun))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 10}, r.Concurrency)
	assert.Equal(t, 16, r.Requests.For(1))
	assert.Equal(t, 40, r.Requests.For(10))
	assert.Equal(t, 10, r.Warmup.For(10))
	assert.Equal(t, 40*time.Minute, r.Timeouts.Startup)
	assert.Equal(t, sim.Linear{Base: 4 * time.Millisecond, PerSeq: 50 * time.Microsecond}, r.Engines[0].Sim.Timing)
}

func TestParseRunErrorsNameFileLineAndField(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown field in engine", validRun + "    prot: 8000\n",
			`engines.yaml:13: engines[0] (sim): unknown field "prot" (known: name, kind, model, url, request, sim, extra`},
		{"unknown top-level field", "concurrenc: [1]\n" + validRun,
			`engines.yaml:1: top level: unknown field "concurrenc"`},
		{"wrong type", "api: chat\nconcurrency: [1, ten]\n",
			"engines.yaml:2: concurrency[1]: cannot unmarshal !!str `ten` into int (want an integer)"},
		{"bad duration", "api: chat\nconcurrency: [1]\ntimeouts: {stall: soon}\n",
			"engines.yaml:3: timeouts.stall: cannot unmarshal !!str `soon` into time.Duration (want a duration such as 90s or 40m)"},
		{"mapping where a list belongs", "concurrency: {a: 1}\n",
			"engines.yaml:1: concurrency: want a list, got a mapping"},
		{"empty", "", "engines.yaml: empty file"},
		{"bad api", "api: grpc\n" + validRun[len("api: chat\n"):], `engines.yaml: api: "grpc": use chat or completions`},
		{"zero timeout", "api: chat\nconcurrency: [1]\nrequests: {min: 1}\ntimeouts: {stall: 1s, request: 0s, startup: 1s}\n",
			"timeouts.request: 0s: must be positive"},
		{"bad kind", validRun + "  - {name: x, kind: docker, model: m}\n", `engines[1] (x): kind "docker": use sim, external or container`},
		{"duplicate", validRun + "  - {name: sim, kind: sim, model: m}\n", `engines[1]: duplicate name "sim"`},
		{"error rate above 1", "max_error_rate: 5\n" + validRun, "engines.yaml: max_error_rate: 5: give a fraction of requests between 0 and 1"},
		{"unknown timing field", strings.Replace(validRun, "per_sequence", "per_seq", 1),
			`engines.yaml:12: engines[0] (sim).sim.timing: unknown field "per_seq" (known: step_base, per_sequence, per_prefill_token, per_context_token)`},
		{"bad timing duration", strings.Replace(validRun, "step_base: 4ms", "step_base: 4", 1),
			"engines.yaml:12: engines[0] (sim).sim.timing.step_base: cannot unmarshal !!int `4` into time.Duration (want a duration such as 90s or 40m)"},
		{"negative timing", strings.Replace(validRun, "per_sequence: 50us", "per_sequence: -50us", 1),
			"engines.yaml: engines[0] (sim): sim timing: per_sequence -50µs: a cost must not be negative (give 0 or a positive duration)"},
		{"slash in name", validRun + "  - {name: vllm/v1, kind: sim, model: m}\n", `engines[1]: name "vllm/v1": use lower-case letters, digits`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRun("engines.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestApplyEnv(t *testing.T) {
	r, err := ParseRun("engines.yaml", []byte(validRun))
	require.NoError(t, err)
	env := map[string]string{
		EnvConcurrency: "1, 50", EnvPrompts: "short,code", EnvAPI: "completions",
		EnvRequests: "7", EnvMaxTokens: "32", EnvTarget: "http://localhost:8000", EnvModel: "llama",
	}
	assert.Equal(t, DefaultMaxErrorRate, r.ErrorRateLimit(), "max_error_rate unset")
	env[EnvMaxErrorRate], env[EnvStallTimeout] = "0.25", "3s"
	require.NoError(t, r.ApplyEnv(func(k string) string { return env[k] }))
	assert.Equal(t, 0.25, r.ErrorRateLimit())
	assert.Equal(t, 3*time.Second, r.Timeouts.Stall)
	assert.Equal(t, []int{1, 50}, r.Concurrency)
	assert.Equal(t, []string{"short", "code"}, r.Prompts)
	assert.Equal(t, "completions", r.API)
	assert.Equal(t, 7, r.Requests.For(100))
	assert.Equal(t, 32, r.MaxTokens)
	require.Len(t, r.Engines, 1)
	assert.Equal(t, Engine{Name: "external", Kind: KindExternal, URL: "http://localhost:8000", Model: "llama",
		Request: RequestFields{IgnoreEOS: true, IncludeUsage: true}}, r.Engines[0])

	for env, want := range map[string]string{
		EnvConcurrency:  `INFBENCH_CONCURRENCY="1,x": "x" is not a positive integer`,
		EnvRequests:     `INFBENCH_REQUESTS="0": want a positive integer`,
		EnvAPI:          `INFBENCH_API="grpc": use chat or completions`,
		EnvTarget:       `INFBENCH_TARGET="localhost:8000": give a URL such as http://localhost:8000`,
		EnvModel:        `INFBENCH_MODEL is set but INFBENCH_TARGET is not`,
		EnvMaxErrorRate: `INFBENCH_MAX_ERROR_RATE="5": want a fraction of requests between 0 and 1 (0.05 is 5%)`,
		EnvStallTimeout: `INFBENCH_STALL_TIMEOUT="20": want a positive duration such as 20s`,
	} {
		vals := map[string]string{EnvConcurrency: "1,x", EnvRequests: "0", EnvAPI: "grpc", EnvTarget: "localhost:8000", EnvModel: "llama",
			EnvMaxErrorRate: "5", EnvStallTimeout: "20"}
		err := r.ApplyEnv(func(k string) string {
			if k == env {
				return vals[k]
			}
			return ""
		})
		assert.ErrorContains(t, err, want, env)
	}
}

func TestParsePrompts(t *testing.T) {
	p, err := ParsePrompts("prompts.yaml", []byte(`documents:
  doc: "A long text."
categories:
  short:
    description: d
    max_tokens: 8
    prompts:
      - {id: s1, text: "Hi?"}
  long:
    max_tokens: 16
    prompts:
      - {id: l1, document: doc, text: "Summarise."}
`))
	require.NoError(t, err)
	assert.Equal(t, []string{"short", "long"}, p.Order, "file order kept")
	assert.Equal(t, "A long text.\n\nSummarise.", p.Text(p.Categories["long"].Prompts[0]))

	_, err = ParsePrompts("prompts.yaml", []byte("categories:\n  short:\n    max_tokens: 8\n    prompts:\n      - {id: s1, text: x, doc: d}\n"))
	assert.ErrorContains(t, err, `prompts.yaml:5: categories.short.prompts[0] (s1): unknown field "doc" (known: id, document, text)`)
	_, err = ParsePrompts("prompts.yaml", []byte("categories:\n  Short Ones:\n    max_tokens: 8\n    prompts:\n      - {id: s1, text: x}\n"))
	assert.ErrorContains(t, err, "categories.Short Ones: use lower-case letters")
	_, err = ParsePrompts("prompts.yaml", []byte("categories:\n  short:\n    prompts:\n      - {id: s1, text: x}\n"))
	assert.ErrorContains(t, err, "categories.short.max_tokens: 0: every category fixes its output length")
	_, err = ParsePrompts("prompts.yaml", []byte("categories:\n  long:\n    max_tokens: 8\n    prompts:\n      - {id: l1, document: nope, text: x}\n"))
	assert.ErrorContains(t, err, `document "nope" is not under documents`)
}

// The shipped configuration files must load: a typo there breaks every run.
func TestShippedFilesLoad(t *testing.T) {
	r, err := LoadRun("../testdata/engines.yaml")
	require.NoError(t, err)
	assert.NotEmpty(t, r.Engines)
	p, err := LoadPrompts("../testdata/prompts.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"short", "medium", "long", "code"}, p.Order)
	for _, name := range p.Order {
		c := p.Categories[name]
		assert.Len(t, c.Prompts, 4, name)
	}
	// Input lengths differ by category: ~4 bytes a token.
	avg := func(cat string) int {
		n := 0
		for _, pr := range p.Categories[cat].Prompts {
			n += len(p.Text(pr))
		}
		return n / 4 / len(p.Categories[cat].Prompts)
	}
	assert.Less(t, avg("short"), 60, "short: tens of tokens")
	assert.Greater(t, avg("medium"), 250, "medium: hundreds")
	assert.Greater(t, avg("long"), 2000, "long: a few thousand")
	assert.Greater(t, avg("code"), 200, "code: a file of a few hundred")
}

func TestRatesValidate(t *testing.T) {
	_, err := ParseRun("engines.yaml", []byte(validRun+"rates: [2, 0]\n"))
	assert.ErrorContains(t, err, "rates: 0: a rate is a positive number of requests per second")
	r, err := ParseRun("engines.yaml", []byte(validRun+"rates: [0.5, 8]\nburstiness: 0.5\nmax_in_flight: 64\nrate_requests: 100\n"))
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5, 8}, r.Rates)
	assert.Equal(t, 64, r.MaxInFlight)
}

// YAML syntax errors name the line a reader would look at: yaml.v3
// reports parser errors one line early (0-based) or at the start of the
// enclosing collection.
func TestSyntaxErrorLines(t *testing.T) {
	head := "api: chat\nconcurrency: [1]\nrequests: {min: 1}\ntimeouts: {stall: 1s, request: 1s, startup: 1s}\nslo:\n  ttft: 1s\n  tpot: 50ms\nengines:\n"
	cases := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"list item in a mapping", strings.TrimSuffix(head, "engines:\n") + "max_tokens: 0\n- x\n", 9, "did not find expected key"},
		{"unclosed flow list", head + "  - {name: sim, kind: sim, model: m, tags: [a, b}\n  - name: x\n", 9, "did not find expected ',' or ']'"},
		{"bad indentation", head + "  - name: sim\n   kind: sim\n", 10, "did not find expected '-' indicator"},
		{"mapping value in a scalar", head + "  - name: sim: x\n", 9, "mapping values are not allowed in this context"},
		{"tab indentation", head + "  - name: sim\n\tkind: sim\n", 10, "found a tab character that violates indentation"},
		{"second line of the file", "api: chat\n  concurrency: [1]\n", 2, "mapping values are not allowed in this context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			t.Logf("yaml.v3 says: %v", yaml.Unmarshal([]byte(tc.yaml), &n))
			_, err := ParseRun("engines.yaml", []byte(tc.yaml))
			require.Error(t, err)
			assert.Equal(t, fmt.Sprintf("engines.yaml:%d: YAML syntax: %s", tc.line, tc.msg), err.Error())
		})
	}
}

func TestWorkloadSpecs(t *testing.T) {
	base := "api: chat\nconcurrency: [1]\nrequests: {min: 1}\ntimeouts: {stall: 1s, request: 1s, startup: 1s}\n"
	r, err := ParseRun("e.yaml", []byte(base+`workloads:
  - {name: syn, kind: synthetic, input_tokens: 128, output_tokens: {dist: normal, mean: 64, std: 8}}
  - {name: mt, kind: multi_turn, turns: 2, think_time: 1s, input_tokens: {dist: uniform, min: 8, max: 16}, output_tokens: 8}
`))
	require.NoError(t, err)
	assert.Equal(t, Dist{Dist: DistFixed, Value: 128}, r.Workloads[0].InputTokens, "a number is a fixed length")
	assert.Equal(t, Dist{Dist: DistNormal, Mean: 64, Std: 8}, r.Workloads[0].OutputTokens)
	assert.Equal(t, time.Second, r.Workloads[1].ThinkTime)

	for yaml, want := range map[string]string{
		"  - {name: s, kind: synthetic, input_tokens: {dist: normal, mean: 9, sd: 1}, output_tokens: 4}\n":      `unknown field "sd" for dist normal (known: mean, std)`,
		"  - {name: s, kind: synthetic, input_tokens: {dist: zipf}, output_tokens: 4}\n":                        `dist "zipf": use fixed, uniform, normal or lognormal`,
		"  - {name: s, kind: synthetic, output_tokens: 4}\n":                                                    `workloads[0] (s): input_tokens: required for kind synthetic`,
		"  - {name: s, kind: synthetic, input_tokens: {dist: uniform, min: 9, max: 3}, output_tokens: 4}\n":     `workloads[0] (s): input_tokens: uniform min 9, max 3: want 1 ≤ min ≤ max`,
		"  - {name: S, kind: synthetic}\n":                                                                      `workloads[0]: name "S": use lower-case letters`,
		"  - {name: d, kind: dataset, path: x.json, format: csv}\n":                                             `workloads[0] (d): format: "csv": use sharegpt or jsonl`,
		"  - {name: p, kind: shared_prefix, groups: 0, prefix_tokens: 8, suffix_tokens: 8, output_tokens: 8}\n": `workloads[0] (p): groups: 0: required for kind shared_prefix, at least 1`,
		"  - {name: m, kind: multi_turn, turns: 2, input_tokens: 8, output_tokens: 8, think_time: -1s}\n":       `workloads[0] (m): think_time: -1s: must not be negative`,
		"  - {name: x, kind: replay}\n":                                                                         `workloads[0] (x): kind "replay": use dataset, synthetic, shared_prefix or multi_turn`,
	} {
		_, err := ParseRun("e.yaml", []byte(base+"workloads:\n"+yaml))
		assert.ErrorContains(t, err, want, yaml)
	}

	// A field another kind takes is refused, naming the workload, the
	// field, the kind and what the kind takes.
	for yaml, want := range map[string]string{
		"  - {name: s, kind: synthetic, input_tokens: 8, output_tokens: 8, prefix_tokens: 512}\n":                               `e.yaml: workloads[0] (s): prefix_tokens: not used by kind synthetic, remove it (kind synthetic takes input_tokens, output_tokens)`,
		"  - {name: p, kind: shared_prefix, groups: 2, prefix_tokens: 8, suffix_tokens: 8, output_tokens: 8, think_time: 1s}\n": `e.yaml: workloads[0] (p): think_time: not used by kind shared_prefix, remove it (kind shared_prefix takes groups, prefix_tokens, suffix_tokens, output_tokens)`,
		"  - {name: d, kind: dataset, path: x.json, format: sharegpt, turns: 3}\n":                                              `e.yaml: workloads[0] (d): turns: not used by kind dataset, remove it (kind dataset takes path, format, sample, min_input_tokens, max_input_tokens, max_output_tokens, max_tokens)`,
		"  - {name: m, kind: multi_turn, turns: 2, input_tokens: 8, output_tokens: 8, max_tokens: 9}\n":                         `e.yaml: workloads[0] (m): max_tokens: not used by kind multi_turn, remove it (kind multi_turn takes turns, think_time, input_tokens, output_tokens)`,
	} {
		_, err := ParseRun("e.yaml", []byte(base+"workloads:\n"+yaml))
		require.Error(t, err, yaml)
		assert.Equal(t, want, err.Error(), yaml)
	}

	r, err = ParseRun("e.yaml", []byte(base))
	require.NoError(t, err)
	require.NoError(t, r.ApplyEnv(func(k string) string { return map[string]string{EnvWorkloads: "short, syn"}[k] }))
	assert.Equal(t, []string{"short", "syn"}, r.WorkloadNames)
}
