package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// DefaultUser runs a loop's pod when the spec names no user, or names
// root: the pod must run as non-root.
const DefaultUser = "1000:1000"

// Subpaths of the loop's PVC.
const (
	subWork = "work"
	subHome = "home"
)

// Ensure implements sandbox.Engine: the PVC first (it outlives the pod),
// then the pod, recreated when its config hash differs; it returns when
// the pod runs.
func (e *Engine) Ensure(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	name := objectName(spec)
	pod, err := podFor(spec, name)
	if err != nil {
		return sandbox.Status{}, err
	}
	e.opts.place(pod)
	// A running pod of this config: its claim is there (a pod cannot
	// start without it), nothing more to ask.
	if cur, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{}); err == nil && cur.Status.Phase == corev1.PodRunning &&
		cur.DeletionTimestamp == nil && cur.Labels[sandbox.LabelConfigHash] == labelValue(spec.ConfigHash()) {
		return podStatus(cur), nil
	}
	if a, err := e.agentSandboxes(ctx); err != nil {
		return sandbox.Status{}, err
	} else if a != nil {
		// A loop made as a bare Pod and claim before the CRD was
		// installed stays one: its clone is on that claim.
		_, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return sandbox.Status{}, e.wrap("claim "+name, err)
		}
		if err != nil {
			sandboxed, err := e.wantsSandbox(ctx, a, name)
			if err != nil {
				return sandbox.Status{}, err
			}
			if sandboxed {
				return e.ensureSandbox(ctx, a, spec, pod)
			}
		}
	}
	if err := e.ensureClaim(ctx, spec, name); err != nil {
		return sandbox.Status{}, err
	}
	pods := e.cs.CoreV1().Pods(e.ns)
	cur, err := pods.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return sandbox.Status{}, e.wrap("pod "+name, err)
	default:
		ended := cur.Status.Phase == corev1.PodSucceeded || cur.Status.Phase == corev1.PodFailed
		if cur.Labels[sandbox.LabelConfigHash] == labelValue(spec.ConfigHash()) && !ended && cur.DeletionTimestamp == nil {
			if cur.Status.Phase == corev1.PodRunning {
				return podStatus(cur), nil
			}
			return e.waitRunning(ctx, name)
		}
		if err := e.deletePod(ctx, name); err != nil {
			return sandbox.Status{}, err
		}
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return sandbox.Status{}, e.wrap("create pod "+name, err)
	}
	return e.waitRunning(ctx, name)
}

func (e *Engine) ensureClaim(ctx context.Context, spec sandbox.Spec, name string) error {
	claims := e.cs.CoreV1().PersistentVolumeClaims(e.ns)
	if _, err := claims.Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return e.wrap("claim "+name, err)
	}
	pvc, err := e.claimFor(spec, name)
	if err != nil {
		return err
	}
	if _, err := claims.Create(ctx, pvc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return e.wrap("create claim "+name, err)
	}
	return nil
}

func meta(spec sandbox.Spec, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: objectLabels(spec), Annotations: map[string]string{AnnotationLoop: spec.Loop}}
}

// claimFor is the loop's claim: its size and class from the options.
func (e *Engine) claimFor(spec sandbox.Spec, name string) (*corev1.PersistentVolumeClaim, error) {
	size := e.opts.Storage
	if size == "" {
		size = DefaultStorage
	}
	q, err := resource.ParseQuantity(size)
	if err != nil {
		return nil, fmt.Errorf("sandbox.kube.storage %q: %w", size, err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: meta(spec, name),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}},
		},
	}
	if e.opts.StorageClass != "" {
		pvc.Spec.StorageClassName = &e.opts.StorageClass
	}
	return pvc, nil
}

// podFor is the loop's pod: its image running sleep, as a non-root user
// that gains no privileges and holds no capabilities, the PVC at the
// worktree's and home's paths, the limits that map onto a container's.
// It holds nothing secret: env goes to each exec only.
func podFor(spec sandbox.Spec, name string) (*corev1.Pod, error) {
	if spec.Image == "" {
		return nil, fmt.Errorf("kubernetes: loop %q has no image (set sandbox.image)", spec.Loop)
	}
	uid, gid, err := user(spec.User)
	if err != nil {
		return nil, err
	}
	mounts, volumes, err := mountTable(spec)
	if err != nil {
		return nil, err
	}
	no, yes := false, true
	res := corev1.ResourceRequirements{Limits: corev1.ResourceList{}}
	if spec.Limits.Memory > 0 {
		res.Limits[corev1.ResourceMemory] = *resource.NewQuantity(spec.Limits.Memory, resource.BinarySI)
	}
	if spec.Limits.NanoCPUs > 0 {
		res.Limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(spec.Limits.NanoCPUs/1e6, resource.DecimalSI)
	}
	// Limits.Pids has no per-container field: a cluster bounds processes
	// per pod with the kubelet's podPidsLimit.
	var ports []corev1.ContainerPort
	for _, p := range spec.Ports {
		if p.Container <= 0 || p.Container > 65535 {
			return nil, fmt.Errorf("kubernetes: invalid port %d for loop %q", p.Container, spec.Loop)
		}
		ports = append(ports, corev1.ContainerPort{ContainerPort: int32(p.Container), Protocol: corev1.ProtocolTCP})
	}
	grace := int64(0)
	workdir := spec.Workdir
	pod := &corev1.Pod{
		ObjectMeta: meta(spec, name),
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Hostname:                      hostname(spec.Loop),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &gid, FSGroup: &gid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Volumes: volumes,
			Containers: []corev1.Container{{
				Name:         container,
				Image:        spec.Image,
				Command:      []string{"sleep", "infinity"},
				WorkingDir:   workdir,
				VolumeMounts: mounts,
				Ports:        ports,
				Resources:    res,
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             &yes,
					AllowPrivilegeEscalation: &no,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	return pod, nil
}

// place applies the options that pin a pod to a node and its network.
func (o Options) place(pod *corev1.Pod) *corev1.Pod {
	pod.Spec.NodeName = o.NodeName
	pod.Spec.HostNetwork = o.HostNetwork
	return pod
}

// user parses "uid:gid"; empty or root becomes DefaultUser.
func user(s string) (int64, int64, error) {
	if s == "" || s == "0" || strings.HasPrefix(s, "0:") {
		s = DefaultUser
	}
	u, g, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseInt(u, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("kubernetes: sandbox user %q is not uid:gid", s)
	}
	gid := uid
	if g != "" {
		if gid, err = strconv.ParseInt(g, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("kubernetes: sandbox user %q is not uid:gid", s)
		}
	}
	return uid, gid, nil
}

// mountTable puts the PVC at the worktree's and home's paths and a
// memory-backed emptyDir at each tmpfs mount. A host path cannot be
// mounted: the cluster never sees this host's files.
func mountTable(spec sandbox.Spec) ([]corev1.VolumeMount, []corev1.Volume, error) {
	name := objectName(spec)
	volumes := []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}},
		{Name: "env", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
	}
	mounts := []corev1.VolumeMount{{Name: "env", MountPath: envDir}}
	if spec.Workdir != "" {
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: spec.Workdir, SubPath: subWork})
	}
	if spec.Home != "" && filepath.Clean(spec.Home) != filepath.Clean(spec.Workdir) {
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: spec.Home, SubPath: subHome})
	}
	for i, m := range spec.Mounts {
		t := filepath.Clean(m.Target)
		if t == filepath.Clean(spec.Workdir) || t == filepath.Clean(spec.Home) {
			// The loop's own clone and home: on the PVC already.
			continue
		}
		if m.Volume {
			// Another dir of the loop's own (its agent dir): a sub-path
			// of the claim named by the target.
			sum := sha256.Sum256([]byte(t))
			mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: t, SubPath: "v-" + hex.EncodeToString(sum[:])[:12]})
			continue
		}
		if !m.Tmpfs {
			return nil, nil, fmt.Errorf("kubernetes: loop %q mounts host path %s, which a cluster cannot see: a loop on kubernetes keeps its clone and home on its claim, seeded by a push (see docs/kubernetes.md)", spec.Loop, m.Source)
		}
		v := fmt.Sprintf("tmp%d", i)
		volumes = append(volumes, corev1.Volume{Name: v, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
		mounts = append(mounts, corev1.VolumeMount{Name: v, MountPath: t})
	}
	return mounts, volumes, nil
}

// hostname makes the loop name a valid hostname (a DNS label).
func hostname(loop string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(loop) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if s == "" {
		return "loop"
	}
	return s
}

// missingWait is how long a pod may be missing while it is waited for.
const missingWait = time.Minute

// waitRunning polls the pod until it runs (an image pull, a volume bind
// take their time), failing early on a pod that cannot start.
func (e *Engine) waitRunning(ctx context.Context, name string) (sandbox.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, e.readyWait)
	defer cancel()
	start := time.Now()
	delay := 20 * time.Millisecond
	for {
		pod, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && time.Since(start) < missingWait {
			// A Sandbox's controller makes the pod in its own time.
			pod, err = &corev1.Pod{}, nil
		}
		if err != nil {
			return sandbox.Status{}, e.wrap("pod "+name, err)
		}
		switch pod.Status.Phase {
		case corev1.PodRunning:
			return podStatus(pod), nil
		case corev1.PodFailed, corev1.PodSucceeded:
			return sandbox.Status{}, fmt.Errorf("kubernetes: pod %s ended (%s): %s", name, pod.Status.Phase, pod.Status.Message)
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff" || w.Reason == "InvalidImageName" || w.Reason == "CreateContainerConfigError") {
				return sandbox.Status{}, fmt.Errorf("kubernetes: pod %s cannot start: %s: %s", name, w.Reason, w.Message)
			}
		}
		select {
		case <-ctx.Done():
			return sandbox.Status{}, fmt.Errorf("kubernetes: pod %s not running after %s (phase %s): %w", name, e.readyWait, pod.Status.Phase, ctx.Err())
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// deletePod deletes the pod and waits until it is gone, so that one of
// the same name can be made.
func (e *Engine) deletePod(ctx context.Context, name string) error {
	pods := e.cs.CoreV1().Pods(e.ns)
	grace := int64(0)
	err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return e.wrap("delete pod "+name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		_, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return e.wrap("pod "+name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubernetes: pod %s still there after delete: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop implements sandbox.Engine: a pod cannot be paused, so it is
// deleted; the PVC (clone and home) stays, and Ensure makes the pod again.
func (e *Engine) Stop(ctx context.Context, spec sandbox.Spec) error {
	name := objectName(spec)
	a, err := e.agentSandboxes(ctx)
	if err != nil {
		return err
	}
	if a != nil {
		// A Sandbox is suspended, so that its controller does not make
		// the pod again; its claim stays.
		sb, err := a.get(ctx, e.ns, name)
		if err != nil && !apierrors.IsNotFound(err) {
			return e.wrap("sandbox "+name, err)
		}
		if err == nil && a.running(sb) {
			a.setRunning(sb, false)
			if err := a.update(ctx, e.ns, sb); err != nil {
				return e.wrap("suspend sandbox "+name, err)
			}
		}
	}
	return e.deletePod(ctx, name)
}

// Remove implements sandbox.Engine: the pod and the PVC.
func (e *Engine) Remove(ctx context.Context, spec sandbox.Spec) error {
	name := objectName(spec)
	claims := []string{name}
	a, err := e.agentSandboxes(ctx)
	if err != nil {
		return err
	}
	if a != nil {
		if err := a.delete(ctx, e.ns, name); err != nil {
			return e.wrap("delete sandbox "+name, err)
		}
		claims = append(claims, sandboxClaim(name))
	}
	if err := e.deletePod(ctx, name); err != nil {
		return err
	}
	for _, c := range claims {
		err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Delete(ctx, c, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return e.wrap("delete claim "+c, err)
		}
	}
	return nil
}

func podStatus(p *corev1.Pod) sandbox.Status {
	st := sandbox.Status{Driver: Name, ID: p.Name, State: sandbox.StateStopped, Labels: restoreLoop(p.Labels, p.Annotations),
		ConfigHash: p.Labels[sandbox.LabelConfigHash]}
	if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
		st.State = sandbox.StateRunning
	}
	if len(p.Spec.Containers) > 0 {
		st.Image = p.Spec.Containers[0].Image
		for _, cp := range p.Spec.Containers[0].Ports {
			st.Ports = append(st.Ports, sandbox.Port{Container: int(cp.ContainerPort)})
		}
	}
	return st
}

// Resources implements sandbox.Purger: the pods and PVCs carrying the
// labels (PVCs are listed with the containers, as "pvc/NAME").
func (e *Engine) Resources(ctx context.Context, labels map[string]string) (sandbox.Resources, error) {
	var out sandbox.Resources
	if len(labels) == 0 {
		return out, errors.New("kubernetes resources: no labels given")
	}
	sel := selector(labels)
	// Sandboxes first: deleted after their pods, they would make them again.
	a, err := e.agentSandboxes(ctx)
	if err != nil {
		return out, err
	}
	if a != nil {
		sbs, err := a.list(ctx, e.ns, sel)
		if err != nil {
			return out, e.wrap("list sandboxes", err)
		}
		for _, sb := range sbs {
			out.Containers = append(out.Containers, "sandbox/"+sb.Name)
		}
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return out, e.wrap("list pods", err)
	}
	for _, p := range pods.Items {
		out.Containers = append(out.Containers, "pod/"+p.Name)
	}
	pvcs, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return out, e.wrap("list claims", err)
	}
	for _, c := range pvcs.Items {
		out.Containers = append(out.Containers, "pvc/"+c.Name)
	}
	return out, nil
}

// Purge implements sandbox.Purger: it deletes exactly the pods and PVCs
// Resources lists, going on past single failures.
func (e *Engine) Purge(ctx context.Context, labels map[string]string) (sandbox.Resources, error) {
	res, err := e.Resources(ctx, labels)
	if err != nil {
		return sandbox.Resources{}, err
	}
	var done sandbox.Resources
	var errs []error
	for _, r := range res.Containers {
		kind, name, _ := strings.Cut(r, "/")
		var err error
		switch kind {
		case "sandbox":
			var a *sandboxAPI
			if a, err = e.agentSandboxes(ctx); a != nil {
				err = a.delete(ctx, e.ns, name)
			}
		case "pod":
			err = e.deletePod(ctx, name)
		default:
			err = e.cs.CoreV1().PersistentVolumeClaims(e.ns).Delete(ctx, name, metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				err = nil
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", r, err))
			continue
		}
		done.Containers = append(done.Containers, r)
	}
	return done, errors.Join(errs...)
}
