package engines

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLeftoverVerdict(t *testing.T) {
	me := owner{pid: 4242, host: "gpu-box", run: "run-me", start: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	alive := func(pid int) bool { return pid == 1000 }
	before, after := me.start.Add(-time.Hour), me.start.Add(time.Minute)
	lbl := func(pid, host, run string) map[string]string {
		return map[string]string{LabelManaged: "true", LabelEngine: "vllm", LabelPID: pid, LabelHost: host, LabelRun: run}
	}
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		created time.Time
		remove  bool
		why     string
	}{
		{"ours", lbl("4242", "gpu-box", "run-me"), after, true, "left by this process"},
		{"owner gone", lbl("999", "gpu-box", "run-x"), before, true, "process 999, which is gone"},
		{"owner alive, older", lbl("1000", "gpu-box", "run-x"), before, false, "process 1000 on this host, still running"},
		{"owner alive, newer", lbl("1000", "gpu-box", "run-x"), after, false, "still running"},
		{"our PID, another run", lbl("4242", "gpu-box", "run-old"), before, true, "earlier process 4242"},
		{"another host", lbl("999", "other-box", "run-x"), before, false, "on host other-box, which cannot be checked"},
		{"no owner labels, older", map[string]string{LabelManaged: "true", LabelEngine: "vllm"}, before, true, "before this process started"},
		{"no owner labels, newer", map[string]string{LabelManaged: "true", LabelEngine: "vllm"}, after, false, "another run may be using it"},
		{"bad PID label", lbl("x", "gpu-box", "run-x"), after, false, "another run may be using it"},
	} {
		remove, why := leftoverVerdict(tc.labels, tc.created, me, alive)
		if remove != tc.remove || !strings.Contains(why, tc.why) {
			t.Errorf("%s: remove %v (%q), want %v (%q)", tc.name, remove, why, tc.remove, tc.why)
		}
	}
}

func TestOwnerLabels(t *testing.T) {
	run := loadRun(t, "h200")
	e, _ := run.Engine("vllm")
	s, err := ResolveSpec(e, run)
	if err != nil {
		t.Fatal(err)
	}
	if s.Labels[LabelPID] != strconv.Itoa(os.Getpid()) || s.Labels[LabelRun] == "" || s.Labels[LabelRun] != self.run ||
		s.Labels[LabelManaged] != "true" || s.Labels[LabelEngine] != "vllm" {
		t.Errorf("labels %v", s.Labels)
	}
	if host, _ := os.Hostname(); s.Labels[LabelHost] != host {
		t.Errorf("host label %q, want %q", s.Labels[LabelHost], host)
	}
}

// processAlive is checked against the kernel's own answer, /proc/<pid>,
// taken just before and after: a child that has exited and been waited for
// is gone, unless its PID was reused in between (then both say alive).
func TestProcessAlive(t *testing.T) {
	if !processAlive(os.Getpid()) || !processAlive(os.Getppid()) {
		t.Error("this process or its parent is not alive?")
	}
	if processAlive(0) || processAlive(-1) {
		t.Error("PID 0 or -1 alive")
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skipf("no /proc to check dead PIDs against: %v", err)
	}
	// A PID beyond the kernel's limit is never in use.
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && processAlive(max+1) {
			t.Errorf("processAlive(pid_max+1 = %d) = true", max+1)
		}
	}
	inProc := func(pid int) bool { _, err := os.Stat("/proc/" + strconv.Itoa(pid)); return err == nil }
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	before, alive, after := inProc(pid), processAlive(pid), inProc(pid)
	if before != after {
		t.Skipf("PID %d changed hands during the check (/proc: %v, then %v)", pid, before, after)
	}
	if alive != before {
		t.Errorf("processAlive(%d) = %v for an exited child; /proc/%d exists: %v", pid, alive, pid, before)
	}
}

// TestNoTestcontainersBanner runs this package's Docker calls in a child
// test process with testcontainers' stock stderr logger (-test.v=true) and
// checks that its banner ("Testcontainers for Go Version", "Resolved
// Docker Host") is not printed: under go test, stderr is merged into the
// benchmark output.
func TestNoTestcontainersBanner(t *testing.T) {
	if os.Getenv("INFBENCH_BANNER_CHILD") == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := dockerInfo(ctx); err != nil {
			os.Stdout.WriteString("NO-DOCKER: " + err.Error() + "\n")
			return
		}
		if _, _, err := removeLeftovers(ctx, "no-such-engine-"+self.run); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("CHILD-DONE\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoTestcontainersBanner$", "-test.v=true", "-test.count=1")
	cmd.Env = append(os.Environ(), "INFBENCH_BANNER_CHILD=1", "TESTCONTAINERS_RYUK_DISABLED=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "NO-DOCKER") {
		t.Skipf("no Docker engine: %s", out)
	}
	if !strings.Contains(string(out), "CHILD-DONE") {
		t.Fatalf("child did not finish:\n%s", out)
	}
	for _, s := range []string{"Testcontainers for Go Version", "Resolved Docker Host", "Connected to docker"} {
		if strings.Contains(string(out), s) {
			t.Errorf("output has %q:\n%s", s, out)
		}
	}
}
