package config

import (
	"strings"
	"testing"
	"time"
)

func TestEnginesYAMLProfiles(t *testing.T) {
	r, err := LoadRun("../testdata/engines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.Profile != "h100" || len(r.Profiles) != 2 {
		t.Fatalf("profile %q, profiles %v", r.Profile, r.ProfileNames())
	}
	e, ok := r.Engine("trtllm")
	if !ok || e.Container == nil || e.Container.Profiles["h100"].Skip == "" || e.Container.Profiles["h200"].Checkpoint == "" {
		t.Fatalf("trtllm entry %+v", e)
	}
	if err := r.ApplyProfile(func(string) string { return "h200" }); err != nil || r.Profile != "h200" {
		t.Fatalf("ApplyProfile(h200) = %v, profile %q", err, r.Profile)
	}
	err = r.ApplyProfile(func(string) string { return "a100" })
	if err == nil || !strings.Contains(err.Error(), `INFBENCH_PROFILE="a100"`) || !strings.Contains(err.Error(), "h100, h200") {
		t.Fatalf("ApplyProfile(a100) = %v", err)
	}
}

const containerRun = `api: chat
concurrency: [1]
requests: {min: 1}
timeouts: {stall: 1s, request: 1s, startup: 1s}
engines:
  - name: trtllm
    kind: container
    model: m
    extra: {return_token_ids: true}
    container:
      image: nvcr.io/nvidia/tensorrt-llm/release:1.2.1
      port: 8000
      ready: {path: /health_generate}
      accepted_fields: {chat: [model, messages, stream, max_tokens], completions: [model, prompt, stream, max_tokens]}
`

func TestContainerStrict(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"unknown field", strings.Replace(containerRun, "port: 8000", "prot: 8000", 1),
			`x.yaml:12: engines[0] (trtllm).container: unknown field "prot"`},
		{"extra not accepted", containerRun, `extra: field "return_token_ids" is not in container.accepted_fields.chat`},
		{"accepted fields without max_tokens", strings.Replace(strings.Replace(containerRun, "[model, messages, stream, max_tokens]", "[model, messages, stream]", 1), "    extra: {return_token_ids: true}\n", "", 1),
			`container.accepted_fields.chat: lacks "max_tokens", which every chat request sends`},
		{"accepted fields of one API only", strings.Replace(strings.Replace(containerRun, ", completions: [model, prompt, stream, max_tokens]", "", 1), "    extra: {return_token_ids: true}\n", "", 1),
			"container.accepted_fields.completions: empty"},
		{"accepted fields as one list", strings.Replace(containerRun, "{chat: [model, messages, stream, max_tokens], completions: [model, prompt, stream, max_tokens]}", "[model, messages]", 1),
			"engines[0] (trtllm).container.accepted_fields"},
		{"bad min driver", strings.Replace(strings.Replace(containerRun, "port: 8000", "port: 8000\n      min_driver: R575", 1), "    extra: {return_token_ids: true}\n", "", 1),
			`container.min_driver: driver version "R575": want numbers separated by dots`},
		{"relative file path", strings.Replace(strings.Replace(containerRun, "port: 8000", "port: 8000\n      files: [{path: extra.yaml, content: x}]", 1), "    extra: {return_token_ids: true}\n", "", 1),
			`container.files[0].path: "extra.yaml": give an absolute file path`},
		{"empty file", strings.Replace(strings.Replace(containerRun, "port: 8000", "port: 8000\n      files: [{path: /etc/x.yaml}]", 1), "    extra: {return_token_ids: true}\n", "", 1),
			`container.files[0] (/etc/x.yaml): content is empty`},
		{"unpinned image", strings.Replace(strings.Replace(containerRun, ":1.2.1", "", 1), "    extra: {return_token_ids: true}\n", "", 1),
			"pin a tag"},
		{"no ready path", strings.Replace(strings.Replace(containerRun, "{path: /health_generate}", "{method: GET}", 1), "    extra: {return_token_ids: true}\n", "", 1),
			"container.ready.path"},
		{"container on sim", strings.Replace(containerRun, "kind: container", "kind: sim", 1), "set only for kind container"},
		{"wrong type", strings.Replace(containerRun, "port: 8000", "port: eight", 1), "engines[0] (trtllm).container.port"},
		{"misspelled probe timeout", strings.Replace(containerRun, "{path: /health_generate}", "{path: /health_generate, probe_timout: 60s}", 1),
			`x.yaml:13: engines[0] (trtllm).container.ready: unknown field "probe_timout"`},
		{"probe timeout not a duration", strings.Replace(containerRun, "{path: /health_generate}", "{path: /health_generate, probe_timeout: sixty}", 1),
			"engines[0] (trtllm).container.ready.probe_timeout"},
		{"negative probe timeout", strings.Replace(containerRun, "{path: /health_generate}", "{path: /health_generate, probe_timeout: -1s}", 1),
			"container.ready.probe_timeout: -1s: must be positive"},
		{"probe timeout past startup", strings.Replace(containerRun, "{path: /health_generate}", "{path: /health_generate, probe_timeout: 2m}\n      startup: 1m", 1),
			"container.ready.probe_timeout: 2m0s: must be shorter than container.startup (1m0s)"},
		{"negative interval", strings.Replace(containerRun, "{path: /health_generate}", "{path: /health_generate, interval: -1s}", 1),
			"container.ready.interval: -1s: must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRun("x.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	ok := strings.Replace(containerRun, "    extra: {return_token_ids: true}\n", "", 1)
	if _, err := ParseRun("x.yaml", []byte(ok)); err != nil {
		t.Fatal(err)
	}
	timed := strings.Replace(ok, "{path: /health_generate}", "{path: /health_generate, probe_timeout: 90s, interval: 2s}", 1)
	r, err := ParseRun("x.yaml", []byte(timed))
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Engines[0].Container.Ready; p.ProbeTimeout != 90*time.Second || p.Interval != 2*time.Second {
		t.Errorf("ready %+v, want probe_timeout 90s, interval 2s", p)
	}
}

func TestDriverVersionAtLeast(t *testing.T) {
	cases := []struct {
		found, min string
		want       bool
	}{
		{"575.51.03", "575", true},
		{"575.51.03", "575.51.03", true},
		{"575.51.02", "575.51.03", false},
		{"570.86.15", "575", false},
		{"580.65.06", "575", true},
		{"550.54.15", "580", false},
		{"1000.1", "580.65.06", true},
	}
	for _, tc := range cases {
		f, err := ParseDriverVersion(tc.found)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseDriverVersion(tc.min)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.AtLeast(m); got != tc.want {
			t.Errorf("%s at least %s = %v, want %v", tc.found, tc.min, got, tc.want)
		}
	}
	if _, err := ParseDriverVersion("575.x"); err == nil || !strings.Contains(err.Error(), `"575.x"`) {
		t.Errorf("ParseDriverVersion(575.x) = %v, want an error naming it", err)
	}
}
