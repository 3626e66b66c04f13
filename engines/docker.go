package engines

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	stdlog "log"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// quietTestcontainers stops testcontainers printing to stderr through its
// process-wide default logger: the "Connected to docker ... Testcontainers
// for Go Version ... Resolved Docker Host" banner that the first Docker
// client of the process prints (no option reaches it: DockerClient.Info
// calls the package's log.Printf), and a few other messages (Ryuk, port
// retries). Under go test, stderr is the benchmark output benchstat reads.
// Per-container messages go to the engine's log through
// testcontainers.WithLogger. Only testcontainers' stock logger (a
// *log.Logger on stderr) is replaced, once, before this package's first
// Docker call; a logger someone else set is left alone.
var quietTestcontainers = sync.OnceFunc(func() {
	if _, stock := tclog.Default().(*stdlog.Logger); stock {
		tclog.SetDefault(tclog.NewNoopLogger())
	}
})

// newDockerClient is testcontainers.NewDockerClientWithOpts (DOCKER_HOST,
// ~/.testcontainers.properties, the default socket) without the banner.
func newDockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	quietTestcontainers()
	return testcontainers.NewDockerClientWithOpts(ctx)
}

// DockerInfo is what the preflight needs from the Docker engine.
type DockerInfo struct {
	ServerVersion string
	Runtimes      []string // e.g. runc, nvidia
}

// dockerTimeout bounds each call to the Docker engine that is not a pull
// or a wait.
const dockerTimeout = 30 * time.Second

// dockerInfo asks the Docker engine (DOCKER_HOST or the default socket)
// for its version and runtimes.
func dockerInfo(ctx context.Context) (DockerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	cli, err := newDockerClient(ctx)
	if err != nil {
		return DockerInfo{}, err
	}
	defer cli.Close()
	res, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return DockerInfo{}, err
	}
	info := DockerInfo{ServerVersion: res.Info.ServerVersion}
	for name := range res.Info.Runtimes {
		info.Runtimes = append(info.Runtimes, name)
	}
	sort.Strings(info.Runtimes)
	return info, nil
}

// imageDigest returns the image's repository digest (repo@sha256:…), or
// its ID where it has none (a locally built image).
func imageDigest(ctx context.Context, image string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	cli, err := newDockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	res, err := cli.ImageInspect(ctx, image)
	if err != nil {
		return "", fmt.Errorf("inspecting image %s: %w", image, err)
	}
	if len(res.RepoDigests) > 0 {
		return res.RepoDigests[0], nil
	}
	return res.ID, nil
}

// owner identifies this process on the containers it starts, so that a
// later run can tell a container left by a dead process from one that
// another infbench process, running now on a shared host, is using.
type owner struct {
	pid   int
	host  string
	run   string    // random, per process
	start time.Time // when this process started (near enough: package init)
}

var self = func() owner {
	host, _ := os.Hostname()
	return owner{pid: os.Getpid(), host: host, run: rand.Text(), start: time.Now()}
}()

// labels are the owner labels set on every container.
func (o owner) labels() map[string]string {
	return map[string]string{LabelPID: strconv.Itoa(o.pid), LabelHost: o.host, LabelRun: o.run}
}

// processAlive says whether a process with this PID exists on this host
// (one we may not signal counts).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// leftoverVerdict says whether a container of our engine name, found
// before starting, is a leftover to remove or another run's to leave: why
// explains it either way.
func leftoverVerdict(labels map[string]string, created time.Time, me owner, alive func(int) bool) (remove bool, why string) {
	run, host, pidStr := labels[LabelRun], labels[LabelHost], labels[LabelPID]
	pid, perr := strconv.Atoi(pidStr)
	switch {
	case run != "" && run == me.run:
		return true, "left by this process"
	case pidStr == "" || host == "" || perr != nil:
		// Started by an infbench without owner labels.
		if created.Before(me.start) {
			return true, "left by an earlier run (created " + created.Format(time.RFC3339) + ", before this process started)"
		}
		return false, "created " + created.Format(time.RFC3339) + " by an infbench process without owner labels, after this one started: another run may be using it"
	case host != me.host:
		return false, fmt.Sprintf("belongs to infbench process %d on host %s, which cannot be checked from here: another run may be using it", pid, host)
	case pid == me.pid:
		return true, fmt.Sprintf("left by an earlier process %d (this process has its PID now)", pid)
	case !alive(pid):
		return true, fmt.Sprintf("left by infbench process %d, which is gone", pid)
	}
	return false, fmt.Sprintf("belongs to infbench process %d on this host, still running", pid)
}

// removeLeftovers removes containers of engine name that a killed run
// left behind (a -timeout panic or SIGKILL runs no cleanup), found by the
// labels every infbench container carries. A container that another
// infbench process may still be using (its process is alive, or on
// another host, or unknown and newer than this process) is left alone,
// and described in warnings instead: two engines on one GPU skew both
// runs.
func removeLeftovers(ctx context.Context, name string) (removed int, warnings []string, err error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	cli, err := newDockerClient(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer cli.Close()
	f := client.Filters{}.Add("label", LabelManaged+"=true", LabelEngine+"="+name)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, nil, fmt.Errorf("listing leftover containers: %w", err)
	}
	for _, c := range list.Items {
		remove, why := leftoverVerdict(c.Labels, time.Unix(c.Created, 0), self, processAlive)
		if !remove {
			warnings = append(warnings, leftoverWarning(c, why))
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return removed, warnings, fmt.Errorf("removing leftover container %.12s (%s): %w", c.ID, why, err)
		}
		removed++
	}
	return removed, warnings, nil
}

func leftoverWarning(c container.Summary, why string) string {
	return fmt.Sprintf("container %.12s (%s) of the same engine name %s: not removed; if no other run is using it, remove it with: docker rm -f %.12s",
		c.ID, c.State, why, c.ID)
}
