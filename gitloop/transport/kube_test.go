package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitloop-dev/git-loop/gitloop/git"
	"github.com/gitloop-dev/git-loop/gitloop/gittest"
	"github.com/gitloop-dev/git-loop/gitloop/transport"
	"github.com/gitloop-dev/git-loop/sandbox"
	"github.com/gitloop-dev/git-loop/sandbox/kube"
	"github.com/gitloop-dev/git-loop/sandbox/kube/kubetest"
)

// TestKubernetes: a loop's clone on a cluster (the fake API server, the
// real client-go executor) is seeded by a push of loop/x over gitloop::,
// gets a commit made inside, and comes back by fetch with the same refs as
// ext:: gives, over WebSocket and over the SPDY fallback.
func TestKubernetes(t *testing.T) {
	for _, proto := range []string{"websocket", "spdy"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			srv := kubetest.New(t)
			srv.NoWebSocket.Store(proto == "spdy")
			kubeconfig := srv.Kubeconfig(t, "loops")
			eng, err := kube.New(kube.Options{Kubeconfig: kubeconfig})
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			spec := sandbox.Spec{Workspace: "ttransport", Loop: "kube-" + proto, Image: "debian:stable",
				Workdir: filepath.Join(root, "clone"), Home: filepath.Join(root, "home")}
			t.Cleanup(func() { _ = eng.Remove(t.Context(), spec) })
			kubeRoundTrip(t, eng, spec, kubeconfig)
			if srv.ExecCount(proto) == 0 {
				t.Errorf("no exec over %s", proto)
			}
		})
	}
}

// TestKubernetesLocal is TestKubernetes on a real cluster (opt-in:
// scripts/kube-local.sh, kubetest.EnvKubeLocal).
func TestKubernetesLocal(t *testing.T) {
	eng, spec := kubetest.LocalCluster(t, "transport")
	kubeRoundTrip(t, eng, spec, os.Getenv("KUBECONFIG"))
}

// kubeRoundTrip seeds spec's clone by a push over gitloop::, makes a
// commit inside and fetches it back, comparing the refs with ext::'s
// (which runs git in the clone's directory on this host: on the fake
// cluster, where pods see the host's files).
func kubeRoundTrip(t *testing.T, eng *kube.Engine, spec sandbox.Spec, kubeconfig string) {
	repo := gittest.Repo(t)
	common := filepath.Join(repo, ".git")
	base := gittest.Git(t, repo, "rev-parse", "HEAD")
	gittest.Git(t, repo, "branch", "loop/x", base)
	env := append(engineEnv(t, "kube", spec), "KUBECONFIG="+kubeconfig)

	sh := func(script string) string {
		t.Helper()
		var out bytes.Buffer
		code, err := eng.Exec(t.Context(), spec, sandbox.Exec{Cmd: []string{"sh", "-c", script}, Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("%s: %d, %v\n%s", script, code, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	// Seeded by a push: the cluster never sees the host's objects.
	if err := transport.SeedByPush(t.Context(), &git.Runner{}, common, "x", transport.Target{Engine: eng, Spec: spec, Dir: spec.Workdir},
		"refs/heads/loop/x", base, env); err != nil {
		t.Fatal(err)
	}
	if got := sh(`git rev-parse HEAD && git symbolic-ref HEAD && git status --porcelain && cat .git/objects/info/alternates 2>/dev/null || true`); got != base+"\nrefs/heads/loop/x" {
		t.Fatalf("the seeded clone: %q, want %s and no alternates", got, base)
	}
	inside := sh(`echo inside > inside.txt && git add inside.txt &&
git -c user.name=Agent -c user.email=agent@example.com commit -q -m inside && git rev-parse HEAD`)

	start := time.Now()
	res, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{
		GitDir: common, Name: "x", SourceBranch: "refs/heads/loop/x", Branch: "refs/heads/loop/x", Env: env,
	})
	viaKube := time.Since(start)
	if err != nil || !res.Moved {
		t.Fatalf("fetch: %+v, %v", res, err)
	}
	if got := gittest.Git(t, repo, "rev-parse", "loop/x"); got != inside {
		t.Errorf("loop/x is %s, want the commit made inside, %s", got, inside)
	}
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: common, Name: "z", Refspecs: allRefs("z"), Env: env}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spec.Workdir); err != nil {
		// A real cluster: its clone is not on this host for ext::.
		if k := refs(t, common, "refs/gitloop/z/"); !strings.Contains(k, inside) {
			t.Errorf("refs through gitloop:: on kubernetes lack %s:\n%s", inside, k)
		}
		t.Logf("fetch of one commit: gitloop:: %v", viaKube)
		return
	}
	start = time.Now()
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: common, Name: "y", Refspecs: allRefs("y"),
		Remote: "ext::git %s " + spec.Workdir, Config: extAllowed}); err != nil {
		t.Fatal(err)
	}
	viaExt := time.Since(start)
	if k, x := refs(t, common, "refs/gitloop/z/"), refs(t, common, "refs/gitloop/y/"); k != x || k == "" {
		t.Errorf("refs through gitloop:: on kubernetes\n%s\nthrough ext::\n%s", k, x)
	}
	// As Refresh fetches (a loop's sealed fetch): served from this
	// process, no git-remote-gitloop to start.
	sh(`echo direct > direct.txt && git add direct.txt && git -c user.name=Agent -c user.email=agent@example.com commit -q -m direct`)
	start = time.Now()
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{
		GitDir: common, Name: "d", Refspecs: allRefs("d"),
		Direct: &transport.Target{Engine: eng, Spec: spec, Dir: spec.Workdir},
	}); err != nil {
		t.Fatal(err)
	}
	viaDirect := time.Since(start)
	start = time.Now()
	if _, err := transport.Fetch(t.Context(), &git.Runner{}, transport.FetchOptions{GitDir: common, Name: "e", Refspecs: allRefs("e"),
		Remote: "ext::git %s " + spec.Workdir, Config: extAllowed}); err != nil {
		t.Fatal(err)
	}
	viaExt2 := time.Since(start)
	if d, e := refs(t, common, "refs/gitloop/d/"), refs(t, common, "refs/gitloop/e/"); d != e || d == "" {
		t.Errorf("refs served in process\n%s\nthrough ext::\n%s", d, e)
	}
	t.Logf("fetch of one commit: gitloop:: %v (through git-remote-gitloop, and the branch moved), ext:: %v; the next commit: served in process (as Refresh does) %v, ext:: %v",
		viaKube, viaExt, viaDirect, viaExt2)
}

// BenchmarkKubeFetch is BenchmarkFetchOneCommit on the fake cluster
// (WebSocket exec; the pod's clone is a host directory there): a Direct
// fetch as Refresh makes it, against git fetch over ext:: from the same
// clone, and the fetch through git-remote-gitloop, alternating, each
// after a commit made in the clone (untimed). Medians and ratios.
func BenchmarkKubeFetch(b *testing.B) {
	srv := kubetest.New(b)
	kubeconfig := srv.Kubeconfig(b, "loops")
	eng, err := kube.New(kube.Options{Kubeconfig: kubeconfig})
	if err != nil {
		b.Fatal(err)
	}
	repo := gittest.Repo(b)
	for i := range 300 {
		gittest.WriteFile(b, repo, fmt.Sprintf("d%d/f%d.txt", i%10, i), fmt.Sprintf("%d\n", i))
	}
	gittest.Commit(b, repo, "300 files")
	common := filepath.Join(repo, ".git")
	gittest.Git(b, repo, "branch", "loop/x")
	root := b.TempDir()
	spec := sandbox.Spec{Workspace: "tbench", Loop: "kube", Image: "debian:stable",
		Workdir: filepath.Join(root, "clone"), Home: filepath.Join(root, "home")}
	b.Cleanup(func() { _ = eng.Remove(context.Background(), spec) })
	gittest.Git(b, "", "clone", "-q", common, spec.Workdir)
	gittest.Git(b, spec.Workdir, "checkout", "-q", "loop/x")
	if _, err := eng.Ensure(b.Context(), spec); err != nil {
		b.Fatal(err)
	}
	commit := func(msg string) {
		gittest.Git(b, spec.Workdir, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-q", "--allow-empty", "-m", msg)
	}
	r := &git.Runner{}
	env := append(engineEnv(b, "kube", spec), "KUBECONFIG="+kubeconfig, transport.EnvSnapshot+"=1")
	extra := []string{"+refs/gitloop/*:" + transport.Quarantine("x") + "side/*"}
	var direct, floor, helper, directCPU, floorCPU []time.Duration
	for i := 0; b.Loop(); i++ {
		commit(fmt.Sprint("a", i))
		c0 := cpuTime()
		t0 := time.Now()
		if _, err := transport.Fetch(b.Context(), r, transport.FetchOptions{GitDir: common, Name: "x", SourceBranch: "refs/heads/loop/x", Branch: "refs/heads/loop/x",
			Extra: extra, Direct: &transport.Target{Engine: eng, Spec: spec, Dir: spec.Workdir}, Snapshot: true}); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(t0))
		directCPU = append(directCPU, cpuTime()-c0)
		commit(fmt.Sprint("b", i))
		c0 = cpuTime()
		t0 = time.Now()
		if _, err := transport.Fetch(b.Context(), r, transport.FetchOptions{GitDir: common, Name: "y", Remote: "ext::git %s " + spec.Workdir, Config: extAllowed,
			Refspecs: []string{"+refs/heads/loop/x:" + transport.Quarantine("y") + "head"}}); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, time.Since(t0))
		floorCPU = append(floorCPU, cpuTime()-c0)
		commit(fmt.Sprint("c", i))
		t0 = time.Now()
		if _, err := transport.Fetch(b.Context(), r, transport.FetchOptions{GitDir: common, Name: "x", SourceBranch: "refs/heads/loop/x", Branch: "refs/heads/loop/x",
			Extra: extra, Env: env}); err != nil {
			b.Fatal(err)
		}
		helper = append(helper, time.Since(t0))
	}
	d, f, h := median(direct), median(floor), median(helper)
	b.ReportMetric(float64(d.Microseconds())/1000, "direct-ms")
	b.ReportMetric(float64(f.Microseconds())/1000, "ext-ms")
	b.ReportMetric(float64(h.Microseconds())/1000, "helper-ms")
	b.ReportMetric(float64(d)/float64(f), "ratio")
	b.ReportMetric(float64(h)/float64(f), "helper-ratio")
	// CPU time (this process, the fake API server in it included, and
	// the processes it waited for) says it on a machine too busy for
	// wall time to.
	dc, fc := median(directCPU), median(floorCPU)
	b.ReportMetric(float64(dc.Microseconds())/1000, "direct-cpu-ms")
	b.ReportMetric(float64(fc.Microseconds())/1000, "ext-cpu-ms")
	b.ReportMetric(float64(dc)/float64(fc), "cpu-ratio")
}
