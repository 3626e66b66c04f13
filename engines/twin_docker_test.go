package engines_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
	"github.com/infbench/infbench/servermetrics"
)

// twinCase is one real engine of testdata/engines.yaml, the profile that
// enables it, and one of its flags misspelled with what the twin (as the
// engine) says about it.
type twinCase struct {
	engine, profile string
	flag, typo      string   // a flag of the spec and its misspelling
	wantTypo        []string // in the start's error (the log tail)
}

var twinCases = []twinCase{
	{engine: "vllm", profile: "h100", flag: "--max-num-seqs", typo: "--max-num-seqz",
		wantTypo: []string{"usage: vllm [-h] [-v]", "vllm: error: unrecognized arguments: --max-num-seqz 128"}},
	{engine: "sglang", profile: "h100", flag: "--mem-fraction-static", typo: "--mem-fraction-statik",
		// SGLang's generated usage is longer than the log tail the error
		// carries (as the real one's, of hundreds of options, is): the
		// tail holds its last lines, indented under "usage: launch_server.py ".
		wantTypo: []string{"\n\t" + strings.Repeat(" ", len("usage: launch_server.py ")) + "[--",
			"launch_server.py: error: unrecognized arguments: --mem-fraction-statik 0.85"}},
	{engine: "trtllm", profile: "h200", flag: "--max_batch_size", typo: "--max_batch_sise",
		wantTypo: []string{"Usage: trtllm-serve serve [OPTIONS] MODEL", "Try 'trtllm-serve serve --help' for help.",
			"Error: No such option: --max_batch_sise Did you mean --max_batch_size?"}},
}

// buildTwinImages builds cmd/infbench-twin static and one FROM scratch
// image per engine with it at that engine's entrypoint
// (testdata/Dockerfile.twin-<engine>); it returns the tags by engine.
func buildTwinImages(t *testing.T, cli *testcontainers.DockerClient) map[string]string {
	t.Helper()
	bin := buildStatic(t, "../cmd/infbench-twin", "infbench-twin")
	tags := map[string]string{}
	for _, tc := range twinCases {
		tags[tc.engine] = buildImage(t, cli, "testdata/Dockerfile.twin-"+tc.engine, "infbench-twin", bin,
			"infbench-twin-"+tc.engine+":e2e-"+randHex(4))
	}
	return tags
}

// twinRun is testdata/engines.yaml with a profile selected.
func twinRun(t *testing.T, profile string) *config.Run {
	t.Helper()
	run, err := config.LoadRun("../testdata/engines.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.ApplyProfile(func(k string) string {
		if k == config.EnvProfile {
			return profile
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	return run
}

// twinOptions run a real spec with the twin image in place of the
// engine's and without the GPU request (hence without the NVIDIA runtime
// and GPU checks): the entrypoint, arguments, port, readiness probe,
// version paths, metrics path, IPC, ulimits, Hugging Face cache mount
// (a temporary HF_HOME) and passed-through HF_TOKEN are the spec's. The
// start-up bound is the test's, not the 40 minutes a model load needs.
func twinOptions(t *testing.T, image string) (opts []engines.Option, logDir string) {
	hfHome, logDir := t.TempDir(), t.TempDir()
	getenv := func(k string) string {
		switch k {
		case "HF_TOKEN":
			return fakeToken
		case "HF_HOME":
			return hfHome
		}
		return os.Getenv(k)
	}
	return []engines.Option{engines.WithLogDir(logDir), engines.WithGetenv(getenv),
		engines.WithSpecOverride(func(s *engines.Spec) {
			s.Image, s.GPU, s.Startup = image, false, 2*time.Minute
			s.Ulimits = grantable(t, s.Ulimits)
		})}, logDir
}

// testTwins (a part of TestDockerEndToEnd) starts vLLM, SGLang and TensorRT-LLM from their specs in
// testdata/engines.yaml, each with only its image replaced by its twin's
// (and no GPU request): readiness through the poller, the version lines,
// one closed-loop cell, the metrics endpoint, stop, and no container left.
// Then a copy of each spec with one flag misspelled fails the start with
// the twin's usage message, as the engine's command line would.
func testTwins(t *testing.T, cli *testcontainers.DockerClient) {
	images := buildTwinImages(t, cli)
	// Each engine runs under a name of its own (its container label and
	// log file), so that another run's containers on this Docker engine
	// are not taken for ours; the spec is the named engine's.
	id := randHex(3)

	for _, tc := range twinCases {
		t.Run(tc.engine, func(t *testing.T) {
			run := twinRun(t, tc.profile)
			e, ok := run.Engine(tc.engine)
			if !ok {
				t.Fatalf("testdata/engines.yaml has no engine %q", tc.engine)
			}
			name := "twin-" + tc.engine + "-" + id
			e.Name = name
			opts, logDir := twinOptions(t, images[tc.engine])
			eng, err := engines.New(e, run, opts...)
			if err != nil {
				t.Fatal(err)
			}
			spec := eng.(*engines.Container).Spec()
			// The twin runs the real spec: only the image, the GPU request,
			// the start-up bound and (where the host cannot grant them) the
			// ulimits differ.
			orig, err := engines.ResolveSpec(e, run)
			if err != nil {
				t.Fatal(err)
			}
			same := spec
			same.Image, same.GPU, same.Startup, same.Ulimits = orig.Image, orig.GPU, orig.Startup, orig.Ulimits
			if !reflect.DeepEqual(same, orig) {
				t.Errorf("the twin's spec differs from testdata/engines.yaml's beyond the image:\n%+v\n%+v", spec, orig)
			}
			if !orig.GPU {
				t.Errorf("the real %s spec requests no GPU", tc.engine)
			}
			ep, info := startChecked(t, cli, eng, name)
			key := "engine-" + name + "-"
			if v := info[key+"version"]; v == "" || strings.HasPrefix(v, "unknown") {
				t.Errorf("version line %q (paths %v)", v, spec.Version)
			}
			if info[key+"image"] != images[tc.engine] || !strings.HasPrefix(info[key+"image-digest"], "sha256:") ||
				info[key+"model"] != spec.Model || info[key+"checkpoint"] != spec.Checkpoint || info[key+"profile"] != tc.profile {
				t.Errorf("info lines %v", info)
			}
			if ep.Model != spec.Model {
				t.Errorf("endpoint model %q, want the spec's %q", ep.Model, spec.Model)
			}
			t.Logf("ready: %s; %s", info[key+"version"], info[key+"command"])

			if tc.engine == "sglang" {
				// The twin's /health_generate, like SGLang's, answers after ≥ 1 s.
				began := time.Now()
				code, _ := get(t, ep.BaseURL+spec.Ready.Path)
				if took := time.Since(began); code != http.StatusOK || took < time.Second {
					t.Errorf("GET %s: %d after %v; want 200 after at least 1s", spec.Ready.Path, code, took)
				}
			}

			smallCell(t, ep)

			switch {
			case spec.Metrics == "":
				// TensorRT-LLM: /metrics is JSON iteration stats, not Prometheus.
				if ep.MetricsURL != "" {
					t.Errorf("MetricsURL %q for a spec without metrics", ep.MetricsURL)
				}
			default:
				// The metrics the cell would report, through the real
				// spec's path and flags (SGLang: --enable-metrics).
				snap, err := servermetrics.Scrape(t.Context(), http.DefaultClient, ep.MetricsURL)
				if err != nil {
					t.Errorf("scraping %s: %v", ep.MetricsURL, err)
				} else {
					for _, q := range []servermetrics.Quantity{servermetrics.Running, servermetrics.Waiting} {
						if v, ok := snap[q]; !ok || v.Engine != tc.engine {
							t.Errorf("%s: %s read as %+v (present %v), want one of %s's names", ep.MetricsURL, q, v, ok, tc.engine)
						}
					}
				}
			}

			if err := eng.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			log, _ := os.ReadFile(filepath.Join(logDir, "engine-"+name+".log"))
			if !strings.Contains(string(log), "infbench-twin: "+tc.engine+" ") {
				t.Errorf("container log lacks the twin's first line:\n%s", log)
			}
			if tc.engine == "trtllm" && !strings.Contains(string(log), "kv_cache_config.dtype fp8 (from --extra_llm_api_options)") {
				t.Errorf("the TensorRT-LLM twin did not read an FP8 KV cache from the spec's --extra_llm_api_options file:\n%s", log)
			}
		})
	}

	for _, tc := range twinCases {
		t.Run("misspelled flag/"+tc.engine, func(t *testing.T) {
			run := twinRun(t, tc.profile)
			e, _ := run.Engine(tc.engine)
			name := "twin-typo-" + tc.engine + "-" + id
			e.Name = name
			c := *e.Container
			c.Args = slices.Clone(c.Args)
			i := slices.Index(c.Args, tc.flag)
			if i < 0 {
				t.Fatalf("the %s spec has no %s in %v", tc.engine, tc.flag, c.Args)
			}
			c.Args[i] = tc.typo
			e.Container = &c
			opts, _ := twinOptions(t, images[tc.engine])
			eng, err := engines.New(e, run, opts...)
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			_, err = eng.Start(t.Context())
			took := time.Since(began)
			_ = eng.Stop(context.Background())
			if err == nil {
				t.Fatalf("Start succeeded with %s misspelled %s", tc.flag, tc.typo)
			}
			t.Log(err)
			for _, want := range append([]string{"the container exited with code 2"}, tc.wantTypo...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			// "exited with code 2" above is the proof the wait ended on
			// the exit, not the start-up deadline.
			t.Logf("Start failed after %v", took)
			if left := leftovers(t, cli, name); len(left) > 0 {
				t.Errorf("containers left behind: %v", left)
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// failures are the distinct reasons of the failed requests.
func failures(recs []loadgen.Record) []string {
	var out []string
	for i := range recs {
		if !recs[i].OK() && !slices.Contains(out, recs[i].Error) {
			out = append(out, recs[i].Error)
		}
	}
	return out
}
