package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/infbench/infbench/config"
)

func TestParseSharding(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	s, err := config.ParseSharding(env())
	require.NoError(t, err)
	assert.False(t, s.Sharded())
	s, err = config.ParseSharding(env(config.EnvShard, "0/1"))
	require.NoError(t, err)
	assert.Equal(t, config.Sharding{}, s, "one shard of one is an unsharded run")

	s, err = config.ParseSharding(env(config.EnvShard, "2/4", config.EnvCoordinator, "coord:7070"))
	require.NoError(t, err)
	assert.Equal(t, config.Sharding{Index: 2, Count: 4, Coordinator: "coord:7070", Timeout: config.DefaultBarrierTimeout}, s)
	s, err = config.ParseSharding(env(config.EnvShards, "4", config.EnvJobIndex, "3", config.EnvCoordinator, "coord:7070", config.EnvBarrierTimeout, "20m"))
	require.NoError(t, err)
	assert.Equal(t, config.Sharding{Index: 3, Count: 4, Coordinator: "coord:7070", Timeout: 20 * time.Minute}, s)

	for _, tc := range []struct {
		env  func(string) string
		want string
	}{
		{env(config.EnvShard, "2"), `INFBENCH_SHARD="2": want i/n`},
		{env(config.EnvShard, "1/2", config.EnvShards, "2"), "are both set"},
		{env(config.EnvShard, "-1/2", config.EnvCoordinator, "c:1"), "want 0 ≤ index < count"},
		{env(config.EnvShard, "1/2", config.EnvCoordinator, "c"), `INFBENCH_COORDINATOR="c": want host:port`},
		{env(config.EnvShard, "1/2", config.EnvCoordinator, "c:1", config.EnvBarrierTimeout, "soon"), `INFBENCH_BARRIER_TIMEOUT="soon"`},
	} {
		_, err := config.ParseSharding(tc.env)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}
