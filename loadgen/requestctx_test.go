package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A request builder gets the loop's context: when the give-up rule stops
// the loop, a builder blocked waiting (a multi-turn session's think time)
// sees it end, with the *HopelessError as its cause, and the loop returns.
func TestClosedLoopRequestGetsLoopContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c, err := NewClient(Target{BaseURL: srv.URL, Model: "m"}, 2)
	require.NoError(t, err)
	defer c.Close()
	causes := make(chan error, 1)
	_, err = ClosedLoop{Concurrency: 2, Requests: 10, GiveUpAfter: 1}.Run(context.Background(), c,
		func(ctx context.Context, i int) Request {
			if i == 1 { // blocks until the loop ends: only the loop's ctx ends it
				<-ctx.Done()
				causes <- context.Cause(ctx)
			}
			return Request{Prompt: "p", MaxTokens: 2}
		}, nil)
	require.ErrorIs(t, err, ErrHopeless)
	var h *HopelessError
	assert.True(t, errors.As(<-causes, &h), "the builder's ctx ended with the give-up cause")
}
