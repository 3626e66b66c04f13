package engines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/infbench/infbench/config"
)

// External is a server that is already running (a laptop, a Kubernetes
// service): Start checks that it answers and finds its model; Stop does
// nothing.
type External struct {
	e       config.Engine
	timeout time.Duration
	apiKey  string
}

// NewExternal returns the external engine for a configuration entry.
// timeout bounds the readiness check; apiKey, if not empty, is sent as a
// bearer token.
func NewExternal(e config.Engine, timeout time.Duration, apiKey string) *External {
	return &External{e: e, timeout: timeout, apiKey: apiKey}
}

// Name implements Engine.
func (x *External) Name() string { return x.e.Name }

// Start implements Engine: it asks /v1/models, which every
// OpenAI-compatible server answers, and checks the model is served.
func (x *External) Start(ctx context.Context) (Endpoint, error) {
	base := strings.TrimRight(x.e.URL, "/")
	if x.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, x.timeout)
		defer cancel()
	}
	var headers map[string]string
	if x.apiKey != "" {
		headers = map[string]string{"Authorization": "Bearer " + x.apiKey}
	}
	models, err := listModels(ctx, base, headers)
	if err != nil {
		return Endpoint{}, fmt.Errorf("engine %q at %s: %w (is the server up? set %s to its base URL, without /v1)", x.e.Name, base, err, config.EnvTarget)
	}
	model := x.e.Model
	switch {
	case model == "" && len(models) == 0:
		return Endpoint{}, fmt.Errorf("engine %q at %s: /v1/models lists no model: set %s", x.e.Name, base, config.EnvModel)
	case model == "":
		model = models[0]
	case len(models) > 0 && !contains(models, model):
		// A server (or gateway) that lists no model is taken at its word
		// for the one set; the first request says whether it serves it.
		return Endpoint{}, fmt.Errorf("engine %q at %s: model %q is not served (the server lists %s): set %s to one of them", x.e.Name, base, model, strings.Join(models, ", "), config.EnvModel)
	}
	return Endpoint{BaseURL: base, Model: model, Headers: headers, IgnoreEOS: x.e.Request.IgnoreEOS,
		IncludeUsage: x.e.Request.IncludeUsage, ContinuousUsage: x.e.Request.ContinuousUsage, Extra: x.e.Extra,
		Info: []config.Line{{Key: "engine-" + x.e.Name + "-url", Value: base}, {Key: "engine-" + x.e.Name + "-model", Value: model}}}, nil
}

// Stop implements Engine; an external server is not ours to stop.
func (x *External) Stop(context.Context) error { return nil }

func listModels(ctx context.Context, base string, headers map[string]string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("GET /v1/models: no answer in time: %w", err)
		}
		return nil, fmt.Errorf("GET /v1/models: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("GET /v1/models: HTTP %d: the server wants an API key: set %s", resp.StatusCode, config.EnvAPIKey)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/models: HTTP %d: %.200s", resp.StatusCode, body)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("GET /v1/models: not an OpenAI model list: %w", err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
