package engines

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

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
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
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
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
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

// removeLeftovers removes containers of engine name that a killed run
// left behind (a -timeout panic or SIGKILL runs no cleanup), found by the
// labels every infbench container carries.
func removeLeftovers(ctx context.Context, name string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	f := client.Filters{}.Add("label", LabelManaged+"=true", LabelEngine+"="+name)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return 0, fmt.Errorf("listing leftover containers: %w", err)
	}
	for _, c := range list.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return 0, fmt.Errorf("removing leftover container %.12s: %w", c.ID, err)
		}
	}
	return len(list.Items), nil
}
