// Package kubernetes holds the manifests that run infbench as a
// Kubernetes Indexed Job (infbench.yaml) and the image they run
// (Dockerfile); its test decodes them into the Kubernetes API types,
// offline, and checks the fields a sharded run depends on.
package kubernetes_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/infbench/infbench/config"
	"github.com/infbench/infbench/resultsdir"
)

// manifests are infbench.yaml's documents, decoded strictly: an unknown
// or misspelled field fails.
type manifests struct {
	pvc corev1.PersistentVolumeClaim
	svc corev1.Service
	job batchv1.Job
}

func load(t *testing.T) manifests {
	data, err := os.ReadFile("infbench.yaml")
	require.NoError(t, err)
	var m manifests
	kinds := map[string]any{"PersistentVolumeClaim": &m.pvc, "Service": &m.svc, "Job": &m.job}
	seen := map[string]bool{}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var head struct {
			Kind string `json:"kind"`
		}
		require.NoError(t, yaml.Unmarshal(doc, &head), "document %d", i)
		into, ok := kinds[head.Kind]
		require.True(t, ok, "document %d: kind %q", i, head.Kind)
		require.NoError(t, yaml.UnmarshalStrict(doc, into), "document %d (%s)", i, head.Kind)
		seen[head.Kind] = true
	}
	require.Len(t, seen, 3, "a PersistentVolumeClaim, a Service and a Job")
	return m
}

func env(c corev1.Container, name string) (corev1.EnvVar, int) {
	for i, e := range c.Env {
		if e.Name == name {
			return e, i
		}
	}
	return corev1.EnvVar{}, -1
}

func TestIndexedJob(t *testing.T) {
	m := load(t)
	job := m.job.Spec
	require.NotNil(t, job.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *job.CompletionMode)
	require.NotNil(t, job.Completions)
	require.NotNil(t, job.Parallelism)
	require.NotNil(t, job.BackoffLimit, "backoffLimit: a failed shard is not restarted into a run that went on")
	assert.Equal(t, int32(0), *job.BackoffLimit)
	assert.Equal(t, corev1.RestartPolicyNever, job.Template.Spec.RestartPolicy)
	require.Len(t, job.Template.Spec.Containers, 1)
	c := job.Template.Spec.Containers[0]

	shards, _ := env(c, config.EnvShards)
	assert.Equal(t, fmt.Sprint(*job.Completions), shards.Value, "completions = INFBENCH_SHARDS")
	assert.Equal(t, *job.Completions, *job.Parallelism, "parallelism = completions: every shard runs at once")

	assert.NotEmpty(t, c.Image)
	require.NotEmpty(t, c.Command)
	assert.Equal(t, "/infbench.test", c.Command[0], "the compiled test binary (Dockerfile)")
	assert.Contains(t, c.Command, "-test.run=^$")
	assert.True(t, slicesAny(c.Command, func(a string) bool { return strings.HasPrefix(a, "-test.bench=") }), "runs the benchmark: %v", c.Command)
	assert.Contains(t, c.Command, "-test.timeout=0", "no test timeout: a cell against a real cluster runs long")

	target, _ := env(c, config.EnvTarget)
	assert.Regexp(t, `^https?://`, target.Value, "INFBENCH_TARGET is an external endpoint")

	// The index comes from the Job controller's annotation, defined
	// before the variables that use it ($(VAR) resolves earlier entries
	// only).
	idx, idxAt := env(c, "SHARD_INDEX")
	require.NotNil(t, idx.ValueFrom)
	require.NotNil(t, idx.ValueFrom.FieldRef)
	assert.Equal(t, "metadata.annotations['"+batchv1.JobCompletionIndexAnnotation+"']", idx.ValueFrom.FieldRef.FieldPath)
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for i, e := range c.Env {
		for _, r := range ref.FindAllStringSubmatch(e.Value, -1) {
			_, at := env(c, r[1])
			assert.True(t, at >= 0 && at < i, "%s uses $(%s), which must be defined before it", e.Name, r[1])
		}
	}
	assert.Less(t, idxAt, len(c.Env))

	// Results go to the PVC, a folder per shard.
	res, _ := env(c, resultsdir.EnvDir)
	assert.Contains(t, res.Value, "$(SHARD_INDEX)", "each shard its own results folder")
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if strings.HasPrefix(res.Value, c.VolumeMounts[i].MountPath+"/") {
			mount = &c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "INFBENCH_RESULTS=%s is under a mounted volume", res.Value)
	var vol *corev1.Volume
	for i := range job.Template.Spec.Volumes {
		if job.Template.Spec.Volumes[i].Name == mount.Name {
			vol = &job.Template.Spec.Volumes[i]
		}
	}
	require.NotNil(t, vol)
	require.NotNil(t, vol.PersistentVolumeClaim)
	assert.Equal(t, m.pvc.Name, vol.PersistentVolumeClaim.ClaimName)
	assert.Contains(t, m.pvc.Spec.AccessModes, corev1.ReadWriteMany, "every pod writes to it at once, from any node")

	// Every shard's environment is one ParseSharding accepts.
	coord, _ := env(c, config.EnvCoordinator)
	for i := range int(*job.Completions) {
		vars := map[string]string{config.EnvShards: shards.Value, config.EnvJobIndex: fmt.Sprint(i), config.EnvCoordinator: coord.Value}
		s, err := config.ParseSharding(func(k string) string { return vars[k] })
		require.NoError(t, err)
		assert.Equal(t, i, s.Index)
		assert.Equal(t, int(*job.Completions), s.Count)
	}
	seed, _ := env(c, "INFBENCH_SEED")
	assert.Regexp(t, `^[0-9a-f]+$`, seed.Value, "every shard the same seed (sharded runs refuse none)")
}

// The coordinator Service reaches the index-0 pod's barrier port.
func TestCoordinatorService(t *testing.T) {
	m := load(t)
	c := m.job.Spec.Template.Spec.Containers[0]
	coord, _ := env(c, config.EnvCoordinator)
	host, port, err := net.SplitHostPort(coord.Value)
	require.NoError(t, err)
	assert.Equal(t, m.svc.Name, host, "INFBENCH_COORDINATOR names the Service")
	assert.Equal(t, map[string]string{batchv1.JobNameLabel: m.job.Name, batchv1.JobCompletionIndexAnnotation: "0"}, m.svc.Spec.Selector,
		"the Service selects the Job's index-0 pod (labels the Job controller sets)")
	require.Len(t, m.svc.Spec.Ports, 1)
	p := m.svc.Spec.Ports[0]
	assert.Equal(t, port, fmt.Sprint(p.Port))
	var containerPort int32
	for _, cp := range c.Ports {
		if cp.Name == p.TargetPort.String() {
			containerPort = cp.ContainerPort
		}
	}
	assert.Equal(t, p.Port, containerPort, "shard 0 listens on INFBENCH_COORDINATOR's port, the target of the Service")
}

// The reader pod mounts the Job's results volume where the Job does.
func TestResultsReader(t *testing.T) {
	m := load(t)
	data, err := os.ReadFile("results-reader.yaml")
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, yaml.UnmarshalStrict(data, &pod))
	require.Len(t, pod.Spec.Volumes, 1)
	require.NotNil(t, pod.Spec.Volumes[0].PersistentVolumeClaim)
	assert.Equal(t, m.pvc.Name, pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
	require.Len(t, pod.Spec.Containers, 1)
	require.Len(t, pod.Spec.Containers[0].VolumeMounts, 1)
	assert.Equal(t, m.job.Spec.Template.Spec.Containers[0].VolumeMounts[0].MountPath, pod.Spec.Containers[0].VolumeMounts[0].MountPath)
}

// The Dockerfile builds the image the Job runs: FROM scratch, the test
// binary where the command expects it, and the configuration it reads.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	s := string(data)
	assert.Regexp(t, `(?m)^FROM scratch$`, s)
	assert.Regexp(t, `(?m)^COPY deploy/kubernetes/infbench.test /infbench.test$`, s)
	assert.Regexp(t, `(?m)^COPY testdata /testdata$`, s, "engines.yaml, prompts.yaml and the datasets engines.yaml names")
	assert.Regexp(t, `(?m)^WORKDIR /$`, s, "the binary reads testdata/ relative to its working directory")
	for _, f := range []string{"../../testdata/engines.yaml", "../../testdata/prompts.yaml"} {
		_, err := os.Stat(f)
		assert.NoError(t, err)
	}
}

func slicesAny(s []string, f func(string) bool) bool {
	for _, x := range s {
		if f(x) {
			return true
		}
	}
	return false
}
