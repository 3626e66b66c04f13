package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Environment variables of a sharded run: several load-generator
// processes, each running its share of every cell (see Sharding).
const (
	// EnvShard is i/n: this process is shard i (from 0) of n.
	EnvShard = "INFBENCH_SHARD"
	// EnvShards is n, with this process's index in EnvJobIndex: what a
	// Kubernetes Indexed Job gives each of its pods.
	EnvShards = "INFBENCH_SHARDS"
	// EnvJobIndex is the index Kubernetes sets in every pod of an
	// Indexed Job (completionMode: Indexed).
	EnvJobIndex = "JOB_COMPLETION_INDEX"
	// EnvCoordinator is host:port of shard 0's barrier: shard 0 listens
	// on its port, every shard (0 included) waits there before each cell.
	EnvCoordinator = "INFBENCH_COORDINATOR"
	// EnvBarrierTimeout bounds every wait at the barrier (default
	// DefaultBarrierTimeout), e.g. 20m when pods start far apart.
	EnvBarrierTimeout = "INFBENCH_BARRIER_TIMEOUT"
)

// DefaultBarrierTimeout is how long a shard waits for the others at a
// barrier: long enough for pods that are scheduled and pull their image
// at different times, short enough that a dead shard ends the others'
// run within the hour.
const DefaultBarrierTimeout = 10 * time.Minute

// Sharding is this process's place in a sharded run; the zero value (Count
// 0) is an unsharded run.
type Sharding struct {
	Index, Count int
	Coordinator  string // host:port
	Timeout      time.Duration
}

// Sharded reports whether the run is split over several processes.
func (s Sharding) Sharded() bool { return s.Count > 1 }

// ParseSharding reads EnvShard (or EnvShards with EnvJobIndex),
// EnvCoordinator and EnvBarrierTimeout from getenv. A run of one shard
// (1/1) is an unsharded run.
func ParseSharding(getenv func(string) string) (Sharding, error) {
	var s Sharding
	shard, shards := strings.TrimSpace(getenv(EnvShard)), strings.TrimSpace(getenv(EnvShards))
	switch {
	case shard != "" && shards != "":
		return s, fmt.Errorf("%s=%q and %s=%q are both set: use %s=i/n on its own, or %s=n with %s (a Kubernetes Indexed Job)",
			EnvShard, shard, EnvShards, shards, EnvShard, EnvShards, EnvJobIndex)
	case shard != "":
		i, n, ok := strings.Cut(shard, "/")
		var err1, err2 error
		s.Index, err1 = strconv.Atoi(i)
		s.Count, err2 = strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil {
			return Sharding{}, fmt.Errorf("%s=%q: want i/n, e.g. 0/4 for the first of four shards", EnvShard, shard)
		}
	case shards != "":
		n, err := strconv.Atoi(shards)
		if err != nil {
			return s, fmt.Errorf("%s=%q: want the number of shards, e.g. 4", EnvShards, shards)
		}
		idx := strings.TrimSpace(getenv(EnvJobIndex))
		i, err := strconv.Atoi(idx)
		if err != nil {
			return s, fmt.Errorf("%s=%s needs this shard's index in %s (set by an Indexed Job), got %q", EnvShards, shards, EnvJobIndex, idx)
		}
		s.Index, s.Count = i, n
	default:
		return s, nil
	}
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return Sharding{}, fmt.Errorf("shard %d of %d (%s/%s): want 0 ≤ index < count", s.Index, s.Count, EnvShard, EnvShards)
	}
	if s.Count == 1 {
		return Sharding{}, nil
	}
	s.Coordinator = strings.TrimSpace(getenv(EnvCoordinator))
	if _, _, err := net.SplitHostPort(s.Coordinator); err != nil || s.Coordinator == "" {
		return Sharding{}, fmt.Errorf("shard %d of %d: %s=%q: want host:port of shard 0's barrier (shard 0 listens on its port), e.g. 127.0.0.1:7070",
			s.Index, s.Count, EnvCoordinator, s.Coordinator)
	}
	s.Timeout = DefaultBarrierTimeout
	if v := strings.TrimSpace(getenv(EnvBarrierTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Sharding{}, fmt.Errorf("%s=%q: want a positive duration such as 20m", EnvBarrierTimeout, v)
		}
		s.Timeout = d
	}
	return s, nil
}
