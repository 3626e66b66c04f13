package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Environment variables honoured in every mode.
const (
	EnvTarget      = "INFBENCH_TARGET"      // http://host:port of a running server: benchmark it as engine=external
	EnvModel       = "INFBENCH_MODEL"       // its model name (default: the first of /v1/models)
	EnvAPIKey      = "INFBENCH_API_KEY"     // its bearer token, if it wants one; never printed or stored
	EnvConcurrency = "INFBENCH_CONCURRENCY" // e.g. 1,10: replaces the concurrency levels
	EnvRates       = "INFBENCH_RATES"       // e.g. 2,8: open-loop request rates (requests/s)
	EnvPrompts     = "INFBENCH_PROMPTS"     // e.g. short,code: the categories to run
	EnvWorkloads   = "INFBENCH_WORKLOADS"   // e.g. short,chat-sample: the workloads to run, by name
	EnvAPI         = "INFBENCH_API"         // chat or completions
	EnvRequests    = "INFBENCH_REQUESTS"    // measured requests per cell
	EnvMaxTokens   = "INFBENCH_MAX_TOKENS"  // every category's output length
	// EnvMaxErrorRate replaces max_error_rate: e.g. 0.05 lets 5% of a
	// cell's requests fail before the run fails.
	EnvMaxErrorRate = "INFBENCH_MAX_ERROR_RATE"
	// EnvHFOffline=1 sets HF_HUB_OFFLINE=1 in every container engine (as
	// container.hf_offline does for one): models come from the mounted
	// Hugging Face cache only.
	EnvHFOffline = "INFBENCH_HF_OFFLINE"
	// EnvDriverCheck=off skips the container engines' driver-version
	// preflight (container.min_driver), for a host that runs a newer CUDA
	// on an older driver through CUDA forward compatibility.
	EnvDriverCheck = "INFBENCH_DRIVER_CHECK"
	// EnvStallTimeout replaces timeouts.stall, e.g. 20s.
	EnvStallTimeout = "INFBENCH_STALL_TIMEOUT"
)

// ApplyEnv overrides the run with the INFBENCH_* variables that getenv
// returns non-empty. With INFBENCH_TARGET set, the engines become a single
// external engine named "external".
func (r *Run) ApplyEnv(getenv func(string) string) error {
	if v := getenv(EnvConcurrency); v != "" {
		levels, err := positiveList(EnvConcurrency, v)
		if err != nil {
			return err
		}
		r.Concurrency = levels
	}
	if v := getenv(EnvRates); v != "" {
		r.Rates = nil
		for _, f := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(x > 0) || x > 1e6 {
				return fmt.Errorf("%s=%q: %q is not a positive rate (want requests per second, e.g. 2,8)", EnvRates, v, strings.TrimSpace(f))
			}
			r.Rates = append(r.Rates, x)
		}
	}
	if v := getenv(EnvPrompts); v != "" {
		r.Prompts = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				r.Prompts = append(r.Prompts, p)
			}
		}
	}
	if v := getenv(EnvWorkloads); v != "" {
		r.WorkloadNames = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				r.WorkloadNames = append(r.WorkloadNames, p)
			}
		}
	}
	if v := getenv(EnvAPI); v != "" {
		if v != "chat" && v != "completions" {
			return fmt.Errorf("%s=%q: use chat or completions", EnvAPI, v)
		}
		r.API = v
	}
	if v := getenv(EnvRequests); v != "" {
		n, err := positive(EnvRequests, v)
		if err != nil {
			return err
		}
		r.Requests.Fixed = n
	}
	if v := getenv(EnvMaxTokens); v != "" {
		n, err := positive(EnvMaxTokens, v)
		if err != nil {
			return err
		}
		r.MaxTokens = n
	}
	if v := getenv(EnvMaxErrorRate); v != "" {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(x >= 0 && x <= 1) {
			return fmt.Errorf("%s=%q: want a fraction of requests between 0 and 1 (0.05 is 5%%)", EnvMaxErrorRate, v)
		}
		r.MaxErrorRate = &x
	}
	if v := getenv(EnvStallTimeout); v != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return fmt.Errorf("%s=%q: want a positive duration such as 20s", EnvStallTimeout, v)
		}
		r.Timeouts.Stall = d
	}
	if v := getenv(EnvTarget); v != "" {
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Errorf("%s=%q: give a URL such as http://localhost:8000", EnvTarget, v)
		}
		r.Engines = []Engine{{
			Name: "external", Kind: KindExternal, URL: v, Model: getenv(EnvModel),
			Request: RequestFields{IgnoreEOS: true, IncludeUsage: true},
		}}
	} else if getenv(EnvModel) != "" {
		return fmt.Errorf("%s is set but %s is not: name the server, e.g. %s=http://localhost:8000", EnvModel, EnvTarget, EnvTarget)
	}
	return nil
}

func positive(name, v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, v)
	}
	return n, nil
}

func positiveList(name, v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := positive(name, f)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %q is not a positive integer (want e.g. 1,10,50)", name, v, strings.TrimSpace(f))
		}
		out = append(out, n)
	}
	return out, nil
}
