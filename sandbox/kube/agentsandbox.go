package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// The agent-sandbox project (kubernetes-sigs) adds a Sandbox resource: one
// stateful singleton pod with a stable identity and claims made from
// templates, which its controller keeps running, suspends and resumes.
// Where the CRD is installed, a loop's sandbox is a Sandbox object rather
// than a bare Pod and PVC: the cluster's operators then see and manage
// loops with the rest of their agents' sandboxes.
//
// The fields used are those of agents.x-k8s.io v1alpha1 and v1beta1 as
// the project's api/ packages define them: spec.podTemplate.{metadata,spec},
// spec.volumeClaimTemplates[].{metadata,spec}, and, to stop without
// losing the claim, spec.replicas (v1alpha1: 0 or 1) or
// spec.operatingMode (v1beta1: Running or Suspended). Its controller
// names the pod as the Sandbox and each claim TEMPLATE-SANDBOX, and adds
// a volume named as the template to the pod: the loop's pod keeps its
// name, so exec and port-forward are unchanged.
const sandboxGroup = "agents.x-k8s.io"

// claimTemplate is the name of the one volume claim template; the claim
// is claimTemplate + "-" + the object's name.
const claimTemplate = "data"

// sandboxVersions are the versions the driver speaks, preferred first.
var sandboxVersions = []string{"v1beta1", "v1alpha1"}

type agentSandbox struct {
	APIVersion        string `json:"apiVersion"`
	Kind              string `json:"kind"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              agentSandboxSpec `json:"spec"`
}

type agentSandboxSpec struct {
	PodTemplate struct {
		Metadata templateMeta   `json:"metadata"`
		Spec     corev1.PodSpec `json:"spec"`
	} `json:"podTemplate"`
	VolumeClaimTemplates []struct {
		Metadata templateMeta                     `json:"metadata"`
		Spec     corev1.PersistentVolumeClaimSpec `json:"spec"`
	} `json:"volumeClaimTemplates,omitempty"`
	Replicas      *int32 `json:"replicas,omitempty"`      // v1alpha1
	OperatingMode string `json:"operatingMode,omitempty"` // v1beta1
}

type templateMeta struct {
	Name        string            `json:"name,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type agentSandboxList struct {
	Items []agentSandbox `json:"items"`
}

// sandboxAPI is what discovery found: the group's client, or none.
type sandboxAPI struct {
	once    sync.Once
	err     error
	version string // "" when the CRD is not installed
	rc      *rest.RESTClient
}

// agentSandboxes asks discovery once whether the agent-sandbox CRD is
// served, and in which version the driver speaks. nil: it is not.
func (e *Engine) agentSandboxes(ctx context.Context) (*sandboxAPI, error) {
	a := &e.sandboxes
	a.once.Do(func() {
		raw, err := e.cs.rc.Get().AbsPath("/apis", sandboxGroup).DoRaw(ctx)
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			// Not installed, or not for this user: Pods and claims.
			return
		}
		if err != nil {
			a.err = e.wrap("discover "+sandboxGroup, err)
			return
		}
		var g metav1.APIGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			a.err = fmt.Errorf("discover %s: %w", sandboxGroup, err)
			return
		}
		for _, v := range sandboxVersions {
			if slices.ContainsFunc(g.Versions, func(gv metav1.GroupVersionForDiscovery) bool { return gv.Version == v }) {
				a.version = v
				break
			}
		}
		if a.version == "" {
			return // a version this driver does not know: Pod and PVC
		}
		c := rest.CopyConfig(e.cfg)
		c.APIPath = "/apis"
		c.GroupVersion = &metav1.SchemeGroupVersion // replaced per request by AbsPath
		c.ContentType = "application/json"          // a CRD speaks no protobuf
		c.AcceptContentTypes = "application/json"
		c.NegotiatedSerializer = core().codecs.WithoutConversion()
		a.rc, a.err = rest.RESTClientFor(c)
	})
	if a.err != nil || a.version == "" {
		return nil, a.err
	}
	return a, nil
}

// wantsSandbox says whether the loop without a claim of its own is to be
// a Sandbox object: always where the CRD is served, unless the user chose
// bare Pods; a loop that already is one stays one whatever the setting (its
// clone is on the Sandbox's claim).
func (e *Engine) wantsSandbox(ctx context.Context, a *sandboxAPI, name string) (bool, error) {
	if !e.opts.NoAgentSandbox {
		return true, nil
	}
	_, err := a.get(ctx, e.ns, name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, e.wrap("sandbox "+name, err)
	}
	return true, nil
}

func (a *sandboxAPI) path(ns string, name ...string) []string {
	return append([]string{"/apis", sandboxGroup, a.version, "namespaces", ns, "sandboxes"}, name...)
}

func (a *sandboxAPI) get(ctx context.Context, ns, name string) (*agentSandbox, error) {
	raw, err := a.rc.Get().AbsPath(a.path(ns, name)...).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var sb agentSandbox
	return &sb, json.Unmarshal(raw, &sb)
}

func (a *sandboxAPI) list(ctx context.Context, ns, sel string) ([]agentSandbox, error) {
	raw, err := a.rc.Get().AbsPath(a.path(ns)...).Param("labelSelector", sel).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var l agentSandboxList
	return l.Items, json.Unmarshal(raw, &l)
}

func (a *sandboxAPI) create(ctx context.Context, ns string, sb *agentSandbox) error {
	body, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	_, err = a.rc.Post().AbsPath(a.path(ns)...).Body(body).DoRaw(ctx)
	return err
}

func (a *sandboxAPI) update(ctx context.Context, ns string, sb *agentSandbox) error {
	body, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	_, err = a.rc.Put().AbsPath(a.path(ns, sb.Name)...).Body(body).DoRaw(ctx)
	return err
}

func (a *sandboxAPI) delete(ctx context.Context, ns, name string) error {
	_, err := a.rc.Delete().AbsPath(a.path(ns, name)...).DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// setRunning says whether the Sandbox's controller keeps its pod.
func (a *sandboxAPI) setRunning(sb *agentSandbox, run bool) {
	sb.APIVersion, sb.Kind = sandboxGroup+"/"+a.version, "Sandbox"
	if a.version == "v1alpha1" {
		n := int32(0)
		if run {
			n = 1
		}
		sb.Spec.Replicas, sb.Spec.OperatingMode = &n, ""
		return
	}
	sb.Spec.Replicas, sb.Spec.OperatingMode = nil, "Suspended"
	if run {
		sb.Spec.OperatingMode = "Running"
	}
}

func (a *sandboxAPI) running(sb *agentSandbox) bool {
	if a.version == "v1alpha1" {
		return sb.Spec.Replicas == nil || *sb.Spec.Replicas > 0
	}
	return sb.Spec.OperatingMode != "Suspended"
}

// sandboxFor is the loop's Sandbox: the pod the driver would make, less
// the claim's volume, which the controller adds from the template.
func (e *Engine) sandboxFor(a *sandboxAPI, spec sandbox.Spec, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim) *agentSandbox {
	sb := &agentSandbox{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Labels: pod.Labels, Annotations: pod.Annotations}}
	e.fillSandbox(sb, pod, claim)
	a.setRunning(sb, true)
	return sb
}

func (e *Engine) fillSandbox(sb *agentSandbox, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim) {
	ps := pod.Spec.DeepCopy()
	ps.Volumes = slices.DeleteFunc(ps.Volumes, func(v corev1.Volume) bool { return v.Name == claimTemplate })
	sb.Labels = pod.Labels
	sb.Spec.PodTemplate.Metadata = templateMeta{Labels: pod.Labels, Annotations: pod.Annotations}
	sb.Spec.PodTemplate.Spec = *ps
	sb.Spec.VolumeClaimTemplates = sb.Spec.VolumeClaimTemplates[:0]
	sb.Spec.VolumeClaimTemplates = append(sb.Spec.VolumeClaimTemplates, struct {
		Metadata templateMeta                     `json:"metadata"`
		Spec     corev1.PersistentVolumeClaimSpec `json:"spec"`
	}{Metadata: templateMeta{Name: claimTemplate, Labels: claim.Labels, Annotations: claim.Annotations}, Spec: claim.Spec})
}

// ensureSandbox is Ensure on a Sandbox: made, updated on a change of
// config (the controller remakes the pod; the claim stays), resumed.
func (e *Engine) ensureSandbox(ctx context.Context, a *sandboxAPI, spec sandbox.Spec, pod *corev1.Pod) (sandbox.Status, error) {
	name := pod.Name
	claim, err := e.claimFor(spec, name)
	if err != nil {
		return sandbox.Status{}, err
	}
	cur, err := a.get(ctx, e.ns, name)
	switch {
	case apierrors.IsNotFound(err):
		if err := a.create(ctx, e.ns, e.sandboxFor(a, spec, pod, claim)); err != nil && !apierrors.IsAlreadyExists(err) {
			return sandbox.Status{}, e.wrap("create sandbox "+name, err)
		}
	case err != nil:
		return sandbox.Status{}, e.wrap("sandbox "+name, err)
	default:
		stale := cur.Labels[sandbox.LabelConfigHash] != pod.Labels[sandbox.LabelConfigHash]
		if stale || !a.running(cur) {
			if stale {
				e.fillSandbox(cur, pod, claim)
				// A pod of the old config: gone before the new one.
				if err := e.deletePod(ctx, name); err != nil {
					return sandbox.Status{}, err
				}
			}
			a.setRunning(cur, true)
			if err := a.update(ctx, e.ns, cur); err != nil {
				return sandbox.Status{}, e.wrap("update sandbox "+name, err)
			}
		}
	}
	return e.waitRunning(ctx, name)
}

// sandboxClaim is the claim the Sandbox's controller makes for a loop.
func sandboxClaim(name string) string { return claimTemplate + "-" + name }
