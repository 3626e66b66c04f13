package engines

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/config"
)

// probeTimeout bounds each request Start makes to a ready engine.
const probeTimeout = 30 * time.Second

// endpoint describes a ready container: its URL, the request fields it
// accepts, and what produced it (image digest, version, model, flags).
func (c *Container) endpoint(ctx context.Context, ctr *testcontainers.DockerContainer) (Endpoint, error) {
	s := c.spec
	base, err := ctr.PortEndpoint(ctx, s.portString(), "http")
	if err != nil {
		return Endpoint{}, fmt.Errorf("engine %q: finding the host port for %s: %w", s.Name, s.portString(), err)
	}
	mctx, cancel := context.WithTimeout(ctx, probeTimeout)
	models, err := listModels(mctx, base, nil)
	cancel()
	if err != nil {
		return Endpoint{}, fmt.Errorf("engine %q at %s: %w", s.Name, base, err)
	}
	if len(models) > 0 && !slices.Contains(models, s.Model) {
		return Endpoint{}, fmt.Errorf("engine %q at %s: model %q is not served (the server lists %s): fix model: or --served-model-name in engines.yaml",
			s.Name, base, s.Model, strings.Join(models, ", "))
	}
	ep := requestEndpoint(c.e, s, base)
	if s.Metrics != "" {
		ep.MetricsURL = base + s.Metrics
	}
	version := engineVersion(ctx, base, s.Version)
	digest, err := imageDigest(ctx, s.Image)
	if err != nil {
		digest = "unknown (" + err.Error() + ")"
	}
	ep.Info = []config.Line{
		{Key: c.key("image"), Value: s.Image},
		{Key: c.key("image-digest"), Value: digest},
		{Key: c.key("version"), Value: version},
		{Key: c.key("model"), Value: s.Model},
	}
	if s.Checkpoint != "" {
		ep.Info = append(ep.Info, config.Line{Key: c.key("checkpoint"), Value: s.Checkpoint})
	}
	if s.Profile != "" {
		ep.Info = append(ep.Info, config.Line{Key: c.key("profile"), Value: s.Profile})
	}
	ep.Info = append(ep.Info, config.Line{Key: c.key("command"), Value: strings.Join(append(append([]string{}, s.Entrypoint...), s.Cmd...), " ")})
	return ep, nil
}

// requestEndpoint is the endpoint at base for an engine entry and its
// spec, with only the request fields the engine accepts.
func requestEndpoint(e config.Engine, s Spec, base string) Endpoint {
	return acceptedFields(Endpoint{BaseURL: base, Model: s.Model, IgnoreEOS: e.Request.IgnoreEOS,
		IncludeUsage: e.Request.IncludeUsage, ContinuousUsage: e.Request.ContinuousUsage, Extra: e.Extra}, s.Accepted)
}

// acceptedFields drops the optional request fields an engine with a fixed
// field list does not accept (TensorRT-LLM answers HTTP 400 to them).
// Extra fields were checked against the list when engines.yaml was read.
func acceptedFields(ep Endpoint, accepted []string) Endpoint {
	if len(accepted) == 0 {
		return ep
	}
	if !slices.Contains(accepted, "ignore_eos") {
		ep.IgnoreEOS = false
	}
	if !slices.Contains(accepted, "stream_options") {
		ep.IncludeUsage, ep.ContinuousUsage = false, false
	}
	return ep
}

// engineVersion asks each path in turn for {"version": "..."}; it never
// fails the start, since the version is a record, not a requirement.
func engineVersion(ctx context.Context, base string, paths []string) string {
	if len(paths) == 0 {
		return "unknown (no version path in engines.yaml)"
	}
	var errs []string
	for _, p := range paths {
		v, err := getVersion(ctx, base+p)
		if err == nil {
			return v
		}
		errs = append(errs, fmt.Sprintf("GET %s: %v", p, err))
	}
	return "unknown (" + strings.Join(errs, "; ") + ")"
}

func getVersion(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var v struct {
		Version any `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Version == nil {
		return "", fmt.Errorf("no \"version\" in the answer")
	}
	return fmt.Sprint(v.Version), nil
}
