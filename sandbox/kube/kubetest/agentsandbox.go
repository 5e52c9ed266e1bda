package kubetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The agent-sandbox CRD (kubernetes-sigs/agent-sandbox, group
// agents.x-k8s.io), served when InstallAgentSandbox is called: discovery,
// Sandbox CRUD, and the part of its controller a loop relies on. The
// schema is the project's api/v1alpha1 and api/v1beta1 Sandbox, down to
// the fields below; a request with any other field is refused, as the
// API server's strict field validation would, so that the driver cannot
// come to depend on a field the CRD does not have.
const sandboxGroup = "agents.x-k8s.io"

// Sandbox is a Sandbox object as stored.
type Sandbox struct {
	APIVersion        string `json:"apiVersion"`
	Kind              string `json:"kind"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              SandboxSpec `json:"spec"`
}

// SandboxSpec holds the fields of both versions; version() refuses those
// of the other.
type SandboxSpec struct {
	PodTemplate          PodTemplate                     `json:"podTemplate"`
	VolumeClaimTemplates []PersistentVolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`
	ShutdownTime         *metav1.Time                    `json:"shutdownTime,omitempty"`
	ShutdownPolicy       *string                         `json:"shutdownPolicy,omitempty"`
	Replicas             *int32                          `json:"replicas,omitempty"`      // v1alpha1 only: 0 or 1
	OperatingMode        string                          `json:"operatingMode,omitempty"` // v1beta1 only: Running or Suspended
	Service              *bool                           `json:"service,omitempty"`       // v1beta1 only
}

// PodTemplate is a Sandbox's pod: only labels and annotations of its metadata are used.
type PodTemplate struct {
	Metadata struct {
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec corev1.PodSpec `json:"spec"`
}

// PersistentVolumeClaimTemplate is one claim the controller makes, named
// TEMPLATE-SANDBOX.
type PersistentVolumeClaimTemplate struct {
	Metadata struct {
		Name        string            `json:"name,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec corev1.PersistentVolumeClaimSpec `json:"spec"`
}

// InstallAgentSandbox serves the CRD at version (v1alpha1 or v1beta1).
func (s *Server) InstallAgentSandbox(version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sandboxVersion = version
	if s.sandboxes == nil {
		s.sandboxes = map[string]*Sandbox{}
	}
}

// Sandbox returns a copy of a Sandbox as stored, or nil.
func (s *Server) Sandbox(ns, name string) *Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[ns+"/"+name]
	if sb == nil {
		return nil
	}
	var out Sandbox
	b, _ := json.Marshal(sb)
	_ = json.Unmarshal(b, &out)
	return &out
}

// serveSandboxes answers /apis/agents.x-k8s.io[/VERSION/namespaces/NS/sandboxes[/NAME]].
func (s *Server) serveSandboxes(w http.ResponseWriter, r *http.Request, parts []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.sandboxVersion
	if v == "" {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	if len(parts) == 2 {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: sandboxGroup + "/" + v, Version: v}
		writeJSON(w, http.StatusOK, &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name: sandboxGroup, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
		return
	}
	if len(parts) < 6 || parts[2] != v || parts[3] != "namespaces" || parts[5] != "sandboxes" || len(parts) > 7 {
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no route "+r.URL.Path)
		return
	}
	ns, name := parts[4], ""
	if len(parts) == 7 {
		name = parts[6]
	}
	if (r.Method != http.MethodPost || name != "") && (r.Method != http.MethodPut || name == "") {
		serveObjects(w, r, ns, name, "sandboxes."+sandboxGroup, s.sandboxes, func(items []*Sandbox) any {
			return &struct {
				metav1.TypeMeta `json:",inline"`
				Items           []*Sandbox `json:"items"`
			}{TypeMeta: metav1.TypeMeta{Kind: "SandboxList", APIVersion: sandboxGroup + "/" + v}, Items: append([]*Sandbox{}, items...)}
		}, func(string) {
			// The pod is the Sandbox's (its owner reference): the garbage
			// collector takes it. Claims are left, as a StatefulSet's are.
			delete(s.pods, ns+"/"+name)
		})
		return
	}
	sb, err := s.decodeSandbox(r, v)
	if err != nil {
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	key := ns + "/" + sb.Name
	old := s.sandboxes[key]
	switch {
	case r.Method == http.MethodPost && old != nil:
		status(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, fmt.Sprintf("sandboxes.%s %q already exists", sandboxGroup, sb.Name))
		return
	case r.Method == http.MethodPut && old == nil:
		status(w, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("sandboxes.%s %q not found", sandboxGroup, name))
		return
	case r.Method == http.MethodPut && sb.Name != name:
		status(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, "name does not match the URL")
		return
	}
	s.seq++
	sb.Namespace, sb.ResourceVersion = ns, strconv.Itoa(s.seq)
	if old != nil {
		sb.UID, sb.CreationTimestamp = old.UID, old.CreationTimestamp
	} else {
		sb.UID, sb.CreationTimestamp = types.UID(fmt.Sprintf("sandbox-%d", s.seq)), metav1.Now()
	}
	s.sandboxes[key] = sb
	if code, reason, msg := s.reconcileSandbox(sb); code != 0 {
		status(w, code, reason, msg)
		return
	}
	writeJSON(w, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[old == nil], sb)
}

// decodeSandbox reads a Sandbox of version v, refusing unknown fields and
// those of the other version.
func (s *Server) decodeSandbox(r *http.Request, v string) (*Sandbox, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var sb Sandbox
	if err := dec.Decode(&sb); err != nil {
		return nil, fmt.Errorf("strict decoding error: %w", err)
	}
	if sb.APIVersion != sandboxGroup+"/"+v || sb.Kind != "Sandbox" {
		return nil, fmt.Errorf("apiVersion %q kind %q, want %s/%s Sandbox", sb.APIVersion, sb.Kind, sandboxGroup, v)
	}
	switch {
	case v == "v1alpha1" && (sb.Spec.OperatingMode != "" || sb.Spec.Service != nil):
		return nil, fmt.Errorf(`strict decoding error: unknown field "spec.operatingMode" or "spec.service" in %s/v1alpha1`, sandboxGroup)
	case v == "v1beta1" && sb.Spec.Replicas != nil:
		return nil, fmt.Errorf(`strict decoding error: unknown field "spec.replicas" in %s/v1beta1`, sandboxGroup)
	case sb.Spec.Replicas != nil && (*sb.Spec.Replicas < 0 || *sb.Spec.Replicas > 1):
		return nil, fmt.Errorf("spec.replicas: must be 0 or 1")
	case sb.Spec.OperatingMode != "" && sb.Spec.OperatingMode != "Running" && sb.Spec.OperatingMode != "Suspended":
		return nil, fmt.Errorf("spec.operatingMode: Unsupported value %q", sb.Spec.OperatingMode)
	case sb.Name == "" || len(sb.Spec.PodTemplate.Spec.Containers) == 0:
		return nil, fmt.Errorf("a Sandbox needs a name and spec.podTemplate.spec.containers")
	}
	return &sb, nil
}

// reconcileSandbox does what the agent-sandbox controller does for one
// Sandbox: each template's claim made (TEMPLATE-NAME, bound at once),
// the pod (named as the Sandbox, with a volume per template) made while
// it runs and deleted while it is suspended. The caller holds s.mu.
func (s *Server) reconcileSandbox(sb *Sandbox) (int, metav1.StatusReason, string) {
	ns := sb.Namespace
	var volumes []corev1.Volume
	for _, t := range sb.Spec.VolumeClaimTemplates {
		claim := t.Metadata.Name + "-" + sb.Name
		volumes = append(volumes, corev1.Volume{Name: t.Metadata.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		if s.claims[ns+"/"+claim] != nil {
			continue
		}
		s.seq++
		s.claims[ns+"/"+claim] = &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: ns, Labels: t.Metadata.Labels, Annotations: t.Metadata.Annotations,
				UID: types.UID(fmt.Sprintf("pvc-%d", s.seq)), ResourceVersion: strconv.Itoa(s.seq)},
			Spec:   t.Spec,
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
		}
	}
	running := sb.Spec.OperatingMode != "Suspended" && (sb.Spec.Replicas == nil || *sb.Spec.Replicas == 1)
	key := ns + "/" + sb.Name
	if !running {
		delete(s.pods, key)
		return 0, "", ""
	}
	if s.pods[key] != nil {
		return 0, "", ""
	}
	spec := sb.Spec.PodTemplate.Spec.DeepCopy()
	for _, v := range volumes {
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == v.Name {
				return http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, "volume " + v.Name + " is a volumeClaimTemplate's"
			}
		}
	}
	spec.Volumes = append(spec.Volumes, volumes...)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: sb.Name, Labels: map[string]string{"agents.x-k8s.io/sandbox-name-hash": "kubetest"},
		Annotations: sb.Spec.PodTemplate.Metadata.Annotations}, Spec: *spec}
	for k, v := range sb.Spec.PodTemplate.Metadata.Labels {
		pod.Labels[k] = v
	}
	return s.addPod(ns, pod)
}
