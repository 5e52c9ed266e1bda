// Package kube is the Kubernetes sandbox driver: one Pod and one
// PersistentVolumeClaim per loop, labelled like docker's containers, reached
// with client-go. Exec runs over WebSocket (the v5 protocol, which carries a
// half-close of stdin) with a fallback to SPDY, so git's protocol runs over
// it. A cluster never sees the host's files: a loop here is sealed, its
// clone and $HOME live on the PVC.
package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitloop-dev/git-loop/sandbox"
)

// Name is the driver's name, as --driver and sandbox.driver take it.
const Name = "kubernetes"

// AnnotationLoop keeps the loop's exact name: a label value is limited to
// 63 characters of [A-Za-z0-9_.-], so the label carries a sanitised form.
const AnnotationLoop = "dev.gitloop.loop-name"

// container is the one container of a loop's pod.
const container = "sandbox"

// Options choose the cluster. Empty fields are read as kubectl reads them:
// KUBECONFIG (or ~/.kube/config), its current-context, and that context's
// namespace ("default" when it has none).
type Options struct {
	Kubeconfig string // a file, instead of KUBECONFIG's list
	Context    string // sandbox.kube.context
	Namespace  string // sandbox.kube.namespace
	// StorageClass and Storage size each loop's PVC; empty means the
	// cluster's default class and DefaultStorage.
	StorageClass string
	Storage      string
	// NodeName and HostNetwork place each pod on a named node, on its
	// host's network: for a cluster without a scheduler or a network
	// plugin, such as scripts/kube-local.sh's. Not settings: a real
	// cluster schedules and networks its pods.
	NodeName    string
	HostNetwork bool
	// NoAgentSandbox makes new loops bare Pods and claims even where the
	// agent-sandbox CRD is installed (sandbox.kube.agentSandbox = off); a
	// loop that is a Sandbox object already stays one.
	NoAgentSandbox bool
}

// DefaultStorage is a loop PVC's requested size.
const DefaultStorage = "10Gi"

// Engine is the Kubernetes driver.
type Engine struct {
	cs        coreClient
	cfg       *rest.Config
	ns        string
	context   string
	host      string
	opts      Options
	readyWait time.Duration
	sandboxes sandboxAPI
}

// New reads the kubeconfig with client-go's default loading rules (those
// of kubectl) and the overrides in opts. Nothing is contacted yet.
func New(opts Options) (*Engine, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	if opts.Namespace != "" {
		overrides.Context.Namespace = opts.Namespace
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig: %v (set KUBECONFIG, or sandbox.kube.context)", sandbox.ErrEngineUnreachable, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig namespace: %w", err)
	}
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	name := raw.CurrentContext
	if opts.Context != "" {
		name = opts.Context
	}
	e, err := NewForConfig(cfg, ns, opts)
	if err != nil {
		return nil, err
	}
	e.context = name
	return e, nil
}

// NewForConfig is New for a rest.Config already made (tests).
func NewForConfig(cfg *rest.Config, namespace string, opts Options) (*Engine, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		// client-go's default (5 a second) would make every exec after
		// the tenth wait: each is a GET and a POST, and git loop runs
		// several per command.
		cfg.QPS, cfg.Burst = 50, 100
	}
	cs, err := newCoreClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if namespace == "" {
		namespace = "default"
	}
	return &Engine{cs: cs, cfg: cfg, ns: namespace, host: cfg.Host, opts: opts, readyWait: 5 * time.Minute}, nil
}

// Name implements sandbox.Engine.
func (e *Engine) Name() string { return Name }

// Namespace is where the loops' pods are made.
func (e *Engine) Namespace() string { return e.ns }

// Context is the kubeconfig context in use ("" when made from a config).
func (e *Engine) Context() string { return e.context }

// Host is the API server's address.
func (e *Engine) Host() string { return e.host }

// Capabilities implements sandbox.Engine: a cluster never sees the host's
// files; a PVC outlives the pod.
func (e *Engine) Capabilities() sandbox.Capabilities {
	return sandbox.Capabilities{HostPaths: false, Volumes: true, Isolated: true}
}

// AllocatesTTY implements sandbox.TerminalOwner: the kubelet's runtime
// allocates the terminal, as docker's does.
func (e *Engine) AllocatesTTY() bool { return true }

// Ping asks the API server for its version, so that an unreachable cluster
// is told apart from a missing pod.
func (e *Engine) Ping(ctx context.Context) error {
	if err := e.cs.rc.Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return e.unreachable(err)
	}
	return nil
}

// unreachable says which cluster could not be reached and how to fix it.
func (e *Engine) unreachable(err error) error {
	where := e.host
	if e.context != "" {
		where = fmt.Sprintf("context %s (%s)", e.context, e.host)
	}
	return fmt.Errorf("%w: kubernetes %s: %v (check kubectl --context %s get pods -n %s)",
		sandbox.ErrEngineUnreachable, where, err, orDash(e.context), e.ns)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// wrap classifies an API error: a transport failure is the engine being
// unreachable; an API status stays as it is.
func (e *Engine) wrap(what string, err error) error {
	var st apierrors.APIStatus
	var nerr net.Error
	var uerr *url.Error
	if !errors.As(err, &st) && (errors.As(err, &nerr) || errors.As(err, &uerr) || errors.Is(err, syscall.ECONNREFUSED)) &&
		!errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, e.unreachable(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Status implements sandbox.Engine: a pod that runs is running; a PVC
// without a pod is a stopped sandbox (Stop deletes the pod, keeps the PVC).
func (e *Engine) Status(ctx context.Context, spec sandbox.Spec) (sandbox.Status, error) {
	name := objectName(spec)
	pod, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return podStatus(pod), nil
	}
	if !apierrors.IsNotFound(err) {
		return sandbox.Status{}, e.wrap("pod "+name, err)
	}
	if a, err := e.agentSandboxes(ctx); err != nil {
		return sandbox.Status{}, err
	} else if a != nil {
		sb, err := a.get(ctx, e.ns, name)
		if err == nil {
			return sandbox.Status{Driver: Name, ID: name, State: sandbox.StateStopped, Labels: restoreLoop(sb.Labels, sb.Annotations),
				ConfigHash: sb.Labels[sandbox.LabelConfigHash]}, nil
		}
		if !apierrors.IsNotFound(err) {
			return sandbox.Status{}, e.wrap("sandbox "+name, err)
		}
	}
	pvc, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return sandbox.Status{Driver: Name, ID: name, State: sandbox.StateStopped, Labels: pvc.Labels,
			ConfigHash: pvc.Labels[sandbox.LabelConfigHash]}, nil
	}
	if apierrors.IsNotFound(err) {
		return sandbox.Status{Driver: Name, State: sandbox.StateMissing}, sandbox.ErrNotFound
	}
	return sandbox.Status{}, e.wrap("claim "+name, err)
}

// List implements sandbox.Engine: the loops' PVCs carrying the labels,
// each with its pod's state.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]sandbox.Status, error) {
	sel := selector(labels)
	pvcs, err := e.cs.CoreV1().PersistentVolumeClaims(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, e.wrap("list claims", err)
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, e.wrap("list pods", err)
	}
	byName := map[string]sandbox.Status{}
	var order []string
	for i := range pods.Items {
		st := podStatus(&pods.Items[i])
		byName[st.ID] = st
		order = append(order, st.ID)
	}
	sandboxClaims := map[string]bool{}
	if a, err := e.agentSandboxes(ctx); err != nil {
		return nil, err
	} else if a != nil {
		sbs, err := a.list(ctx, e.ns, sel)
		if err != nil {
			return nil, e.wrap("list sandboxes", err)
		}
		for _, sb := range sbs {
			sandboxClaims[sandboxClaim(sb.Name)] = true
			if _, ok := byName[sb.Name]; ok {
				continue
			}
			byName[sb.Name] = sandbox.Status{Driver: Name, ID: sb.Name, State: sandbox.StateStopped, Labels: restoreLoop(sb.Labels, sb.Annotations),
				ConfigHash: sb.Labels[sandbox.LabelConfigHash]}
			order = append(order, sb.Name)
		}
	}
	for _, c := range pvcs.Items {
		if _, ok := byName[c.Name]; ok || sandboxClaims[c.Name] {
			continue
		}
		byName[c.Name] = sandbox.Status{Driver: Name, ID: c.Name, State: sandbox.StateStopped, Labels: restoreLoop(c.Labels, c.Annotations),
			ConfigHash: c.Labels[sandbox.LabelConfigHash]}
		order = append(order, c.Name)
	}
	out := make([]sandbox.Status, 0, len(order))
	for _, n := range order {
		out = append(out, byName[n])
	}
	return out, nil
}

// labelValue makes v a valid label value: at most 63 characters of
// [A-Za-z0-9_.-], starting and ending alphanumeric. A value changed on the
// way keeps a hash of the original, so two loops never share one.
func labelValue(v string) string {
	ok := len(v) <= 63
	var b strings.Builder
	for i, r := range v {
		valid := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			(r == '-' || r == '_' || r == '.') && i > 0 && i < len(v)-1)
		if !valid {
			ok = false
			r = '-'
		}
		b.WriteRune(r)
	}
	if ok {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	s := strings.Trim(b.String(), "-_.")
	if len(s) > 50 {
		s = s[:50]
	}
	return strings.Trim(s, "-_.") + "-" + hex.EncodeToString(sum[:])[:8]
}

// objectName is the pod's and the PVC's name: spec.Name() as a DNS label
// (lowercase, at most 63 characters).
func objectName(spec sandbox.Spec) string {
	n := spec.Name()
	var b strings.Builder
	for _, r := range strings.ToLower(n) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	s := b.String()
	if s == n && len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(n))
	if len(s) > 54 {
		s = s[:54]
	}
	return strings.TrimRight(s, "-") + "-" + hex.EncodeToString(sum[:])[:8]
}

// objectLabels are spec.Labels() as valid label values.
func objectLabels(spec sandbox.Spec) map[string]string {
	out := map[string]string{}
	for k, v := range spec.Labels() {
		out[k] = labelValue(v)
	}
	return out
}

// restoreLoop gives back the loop's exact name from the annotation.
func restoreLoop(labels, ann map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	if n, ok := ann[AnnotationLoop]; ok {
		out[sandbox.LabelLoop] = n
	}
	return out
}

func selector(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		if v == "" {
			// Any value, as docker's label filters take it.
			parts = append(parts, k)
			continue
		}
		parts = append(parts, k+"="+labelValue(v))
	}
	return strings.Join(parts, ",")
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("kubernetes exec url: %w", err)
	}
	return u, nil
}
