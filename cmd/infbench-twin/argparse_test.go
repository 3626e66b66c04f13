package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// argparseCases are argument lists whose parse the emulation must get as
// Python's argparse does.
var argparseCases = map[string][][]string{
	"launch_server.py": {
		{"--model-path", "m", "--mem-fraction-statik", "0.85"},
		{"--model_path", "m"},
		{"--model", "m", "--enable-metrics=1"},
		{"--model-path", "m", "--port", "x"},
		{"--model-path", "m", "--port=30000", "--host", "0.0.0.0", "--enable-metrics"},
		{"--model-pa", "m", "--enable-metrics", "--max-running", "8"},
		{"--model-path", "m", "--max"},
		{"--model-path", "m", "--kv-cache-dtype", "fp8"},
		{"--model-path", "m", "--port"},
		{"--model-path", "m", "extra", "--log-level", "info"},
		{"--model-path", "m", "--mem-fraction-static", "-0.5"},
	},
	"vllm serve": {
		{"m", "--max-num-seqs", "8", "--enable-prefix-caching"},
		{"m", "--no-enable-prefix-caching", "--served-model-name", "a", "b", "--port=9"},
		{"m", "--kv-cache-dtype", "fp9"},
		{"m", "--max-num-seqz", "128"},
		{"m", "--max-num", "1"},
		{"m", "-tp", "2", "-O3"},
		{"m", "--enforce-eager=1"},
		{"m", "--gpu-memory-utilization", "lots"},
		{"m", "n"},
	},
}

// TestArgparseAgainstPython runs the SGLang and vLLM serve parsers'
// definitions through Python's own argparse (when python3 is on PATH)
// and compares the generated usage, the values, the leftovers and the
// error messages with the emulation's.
func TestArgparseAgainstPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH to compare with")
	}
	parsers := []*argParser{
		{prog: "launch_server.py", opts: sglangFlags},
		{prog: "vllm serve", usage: "vllm serve [model_tag] [options]", opts: vllmFlags, positional: "model_tag"},
	}
	for _, p := range parsers {
		t.Run(p.prog, func(t *testing.T) {
			cases := argparseCases[p.prog]
			script := pythonParser(p)
			in, _ := json.Marshal(cases)
			cmd := exec.Command(py, "-c", script, string(in))
			cmd.Env = append(cmd.Environ(), "COLUMNS=80")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python3: %v\n%s", err, out)
			}
			var want []struct {
				Usage  string            `json:"usage"`
				Err    string            `json:"err"`
				Values map[string]string `json:"values"`
				Extras []string          `json:"extras"`
			}
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatal(err)
			}
			for i, args := range cases {
				w := want[i]
				if i == 0 && w.Usage != p.formatUsage() {
					t.Errorf("usage:\n%s\nargparse's:\n%s", p.formatUsage(), w.Usage)
				}
				res, err := p.parse(args)
				if w.Err != "" || err != nil {
					var got bytes.Buffer
					if err != nil {
						fail(&got, p.formatUsage(), p.prog, err)
					}
					if got.String() != w.Err {
						t.Errorf("%q: error\n%s\nargparse's:\n%s", args, got.String(), w.Err)
					}
					continue
				}
				if strings.Join(res.extras, " ") != strings.Join(w.Extras, " ") {
					t.Errorf("%q: extras %q, argparse's %q", args, res.extras, w.Extras)
				}
				for k, v := range w.Values {
					if got := strings.Join(res.values[k], " "); got != v {
						t.Errorf("%q: %s = %q, argparse's %q", args, k, got, v)
					}
				}
				for k := range res.values {
					if _, ok := w.Values[k]; !ok {
						t.Errorf("%q: %s set, not by argparse", args, k)
					}
				}
			}
		})
	}
}

// pythonParser is a Python program that defines p with argparse and
// prints, for each argument list (JSON in argv[1]), parse_known_args'
// values and leftovers or error()'s output.
func pythonParser(p *argParser) string {
	var b strings.Builder
	b.WriteString("import argparse, contextlib, io, json, sys\n")
	usage := "None"
	if p.usage != "" {
		usage = fmt.Sprintf("%q", p.usage)
	}
	fmt.Fprintf(&b, "p = argparse.ArgumentParser(prog=%q, usage=%s)\n", p.prog, usage)
	for _, o := range p.opts {
		names, _ := json.Marshal(o.names)
		kw := []string{}
		switch o.kind {
		case kTrue:
			kw = append(kw, "action='store_true', default=None")
		case kBoolOpt:
			kw = append(kw, "action=argparse.BooleanOptionalAction")
		case kValues:
			kw = append(kw, "nargs='+'")
		}
		if o.typ != "" {
			kw = append(kw, "type="+o.typ)
		}
		if len(o.choices) > 0 {
			c, _ := json.Marshal(o.choices)
			kw = append(kw, "choices="+string(c))
		}
		if o.required {
			kw = append(kw, "required=True")
		}
		fmt.Fprintf(&b, "p.add_argument(*%s, %s)\n", names, strings.Join(kw, ", "))
	}
	if p.positional != "" {
		fmt.Fprintf(&b, "p.add_argument(%q, nargs='?')\n", p.positional)
	}
	b.WriteString(`
def show(v):
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, list): return " ".join(str(x) for x in v)
    return str(v)
out = []
for args in json.loads(sys.argv[1]):
    r = {"usage": p.format_usage()}
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns, extras = p.parse_known_args(args)
        r["values"] = {k: show(v) for k, v in vars(ns).items() if v is not None}
        r["extras"] = extras
    except SystemExit:
        r["err"] = err.getvalue()
    out.append(r)
print(json.dumps(out))
`)
	return b.String()
}
