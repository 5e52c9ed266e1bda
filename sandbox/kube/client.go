package kube

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// The driver speaks core/v1 only, through a REST client on a scheme of its
// own: client-go's clientset (kubernetes.NewForConfig) links every API
// group into the binary and registers them all at start-up, which cost
// git-loop 54 MB and 10 ms on every command, Kubernetes or not. The scheme
// itself is built on first use, not at package init: registering core/v1
// was ~0.2 ms of every git-loop process, hooks included.
type coreCodecSet struct {
	codecs serializer.CodecFactory
	params runtime.ParameterCodec
}

var core = sync.OnceValue(func() coreCodecSet {
	scheme := runtime.NewScheme()
	c := coreCodecSet{codecs: serializer.NewCodecFactory(scheme), params: runtime.NewParameterCodec(scheme)}
	_ = corev1.AddToScheme(scheme)
	_ = metav1.AddMetaToScheme(scheme)
	return c
})

// coreClient is the part of client-go's typed core/v1 client the driver
// uses, with the same call shapes.
type coreClient struct{ rc *rest.RESTClient }

func newCoreClient(cfg *rest.Config) (coreClient, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.NegotiatedSerializer = core().codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return coreClient{}, err
	}
	return coreClient{rc: rc}, nil
}

func (c coreClient) CoreV1() coreClient           { return c }
func (c coreClient) RESTClient() *rest.RESTClient { return c.rc }

func (c coreClient) Pods(ns string) objects[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList] {
	return objects[corev1.Pod, corev1.PodList, *corev1.Pod, *corev1.PodList]{rc: c.rc, ns: ns, resource: "pods"}
}

func (c coreClient) PersistentVolumeClaims(ns string) objects[corev1.PersistentVolumeClaim, corev1.PersistentVolumeClaimList, *corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList] {
	return objects[corev1.PersistentVolumeClaim, corev1.PersistentVolumeClaimList, *corev1.PersistentVolumeClaim, *corev1.PersistentVolumeClaimList]{rc: c.rc, ns: ns, resource: "persistentvolumeclaims"}
}

// objects is one resource in one namespace.
type objects[T, L any, PT interface {
	*T
	runtime.Object
}, PL interface {
	*L
	runtime.Object
}] struct {
	rc       *rest.RESTClient
	ns       string
	resource string
}

func (o objects[T, L, PT, PL]) Get(ctx context.Context, name string, _ metav1.GetOptions) (*T, error) {
	out := PT(new(T))
	err := o.rc.Get().Namespace(o.ns).Resource(o.resource).Name(name).Do(ctx).Into(out)
	return out, err
}

func (o objects[T, L, PT, PL]) Create(ctx context.Context, obj *T, _ metav1.CreateOptions) (*T, error) {
	out := PT(new(T))
	err := o.rc.Post().Namespace(o.ns).Resource(o.resource).Body(PT(obj)).Do(ctx).Into(out)
	return out, err
}

func (o objects[T, L, PT, PL]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return o.rc.Delete().Namespace(o.ns).Resource(o.resource).Name(name).Body(&opts).Do(ctx).Error()
}

func (o objects[T, L, PT, PL]) List(ctx context.Context, opts metav1.ListOptions) (*L, error) {
	out := PL(new(L))
	err := o.rc.Get().Namespace(o.ns).Resource(o.resource).VersionedParams(&opts, core().params).Do(ctx).Into(out)
	return out, err
}
