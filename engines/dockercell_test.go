package engines_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/testcontainers/testcontainers-go"

	"github.com/infbench/infbench/engines"
	"github.com/infbench/infbench/loadgen"
)

// startChecked starts eng and returns its endpoint with its config lines as
// a map. It fails the test where a line shows the fake token, and stops the
// engine when the test ends (Stop twice is allowed), failing the test where
// a container carrying the engine's label is left behind.
func startChecked(t *testing.T, cli *testcontainers.DockerClient, eng engines.Engine, name string) (engines.Endpoint, map[string]string) {
	t.Helper()
	ep, err := eng.Start(t.Context())
	t.Cleanup(func() {
		if err := eng.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if left := leftovers(t, cli, name); len(left) > 0 {
			t.Errorf("containers left behind: %v", left)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{}
	for _, l := range ep.Info {
		info[l.Key] = l.Value
		if strings.Contains(l.Value, fakeToken) {
			t.Errorf("config line %s shows the token", l.Key)
		}
	}
	return ep, info
}

// smallCell drives 8 chat requests of 8 tokens (after 2 of warm-up) at
// concurrency 4 through the endpoint and fails the test unless all 8
// complete with 64 output tokens.
func smallCell(t *testing.T, ep engines.Endpoint) {
	t.Helper()
	lc, err := loadgen.NewClient(loadgen.Target{BaseURL: ep.BaseURL, Model: ep.Model, API: loadgen.Chat,
		IgnoreEOS: ep.IgnoreEOS, IncludeUsage: ep.IncludeUsage, ContinuousUsage: ep.ContinuousUsage,
		Extra: ep.Extra, Headers: ep.Headers}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	recs, err := loadgen.ClosedLoop{Concurrency: 4, Warmup: 2, Requests: 8}.Run(t.Context(), lc,
		func(_ context.Context, i int) loadgen.Request {
			return loadgen.Request{Prompt: strconv.Itoa(i) + " What color is the sky?", MaxTokens: 8}
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := loadgen.Summarize(recs, loadgen.SLO{})
	if sum.Completed != 8 || sum.Failed != 0 || sum.OutputTokens != 64 {
		t.Errorf("cell: %d completed, %d failed, %d output tokens; want 8, 0, 64 (errors: %v)",
			sum.Completed, sum.Failed, sum.OutputTokens, failures(recs))
	}
}
