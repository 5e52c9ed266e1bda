#!/usr/bin/env bash
# kube-local.sh: a real single-node Kubernetes cluster on this machine, offline, for the
# opt-in test of the kubernetes driver (GIT_LOOP_TEST_KUBE_LOCAL=1, see docs/kubernetes.md).
#
#   scripts/kube-local.sh build   build kube-apiserver, kubelet and kube-controller-manager
#                                 (about 18 min on 2 idle cores)
#   scripts/kube-local.sh up      build if needed, then start etcd, containerd, the apiserver
#                                 and the kubelet; write the kubeconfig; import the test image
#   scripts/kube-local.sh runtime start containerd and import the images only (no build)
#   scripts/kube-local.sh down    stop what `up` started
#   scripts/kube-local.sh env     print the export line for the test (KUBECONFIG, ...)
#
# Nothing is fetched beyond the Go module proxy and Debian's apt: kube-apiserver and kubelet
# are built from k8s.io/kubernetes off the module proxy, with every staging module replaced by
# its published version (k8s.io/kubernetes's own go.mod points them at ./staging, which a
# module download does not carry). etcd, containerd and the CNI plugins are Debian's; pods
# get addresses of their own on the bridge network below. No scheduler: git loop's pods name
# their node (sandbox.kube.node = localhost). No provisioner: the tests make a hostPath volume
# per claim. The controller manager runs for what a real cluster does between the driver and
# the kubelet: binding a claim to a volume, removing the protection finalizers of deleted
# claims and volumes, and making each namespace's default service account.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
STAGING_VERSION=${STAGING_VERSION:-v0.${K8S_VERSION#v1.}}
DIR=${GIT_LOOP_KUBE_LOCAL_DIR:-/var/tmp/git-loop-kube-local}
BIN=$DIR/bin
RUN=$DIR/run
APISERVER_PORT=${GIT_LOOP_KUBE_LOCAL_PORT:-16443}
TEST_IMAGE=${GIT_LOOP_TEST_KUBE_LOCAL_IMAGE:-}

log() { printf '%s kube-local: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

build() {
	if [[ -x $BIN/kube-apiserver && -x $BIN/kubelet && -x $BIN/kube-controller-manager ]]; then
		log "already built: $BIN"
		return
	fi
	mkdir -p "$DIR/src" "$BIN"
	local src=$DIR/src
	cd "$src"
	if [[ ! -f go.mod ]]; then
		go mod init gitloop.invalid/kube-local >/dev/null 2>&1
	fi
	log "downloading k8s.io/kubernetes@$K8S_VERSION"
	local gomod
	gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[[ -f $gomod ]] || { log "no go.mod for k8s.io/kubernetes@$K8S_VERSION"; exit 1; }
	# Every "k8s.io/X => ./staging/src/k8s.io/X" becomes "k8s.io/X => k8s.io/X STAGING_VERSION".
	local staging
	staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\1#p' "$gomod")
	[[ -n $staging ]] || { log "no staging replaces found in $gomod"; exit 1; }
	local args=(-require "k8s.io/kubernetes@$K8S_VERSION")
	for m in $staging; do
		args+=(-replace "$m=$m@$STAGING_VERSION")
	done
	go mod edit "${args[@]}"
	cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
	log "resolving modules"
	GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
	GOFLAGS=-mod=mod go mod download all 2>/dev/null || true
	local t0=$SECONDS
	for cmd in kube-apiserver kubelet kube-controller-manager; do
		[[ -x $BIN/$cmd ]] && continue
		log "building $cmd"
		GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
		mv "$BIN/$cmd.tmp" "$BIN/$cmd"
	done
	log "built in $((SECONDS - t0)) s: $(ls "$BIN" | tr '\n' ' ')"
}

# The cluster's files, all under $DIR/run.
ETCD_PORT=${GIT_LOOP_KUBE_LOCAL_ETCD_PORT:-12379}
CTRD=$RUN/containerd
SOCK=$CTRD/containerd.sock
KUBECONFIG_OUT=$DIR/kubeconfig
PAUSE_IMAGE=localhost/gitloop-pause:1

need() {
	local missing=()
	command -v etcd >/dev/null || missing+=(etcd-server)
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	[[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
	command -v openssl >/dev/null || missing+=(openssl)
	if ((${#missing[@]})); then
		log "apt-get install ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
	fi
}

# start NAME CMD...: runs CMD in the background in its own session, logging to
# $RUN/NAME.log, its pid in $RUN/NAME.pid.
start() {
	local name=$1
	shift
	if [[ -f $RUN/$name.pid ]] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
		return
	fi
	setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/$name.pid"
}

# wait_for WHAT SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local i
	for ((i = 0; i < secs * 4; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.25
	done
	log "$what did not come up in ${secs}s; its log:"
	tail -30 "$RUN/$what.log" >&2 || true
	return 1
}

kc() { kubectl --kubeconfig "$KUBECONFIG_OUT" "$@"; }

# oci_image NAME ROOTFS_TAR CMD OUT: an OCI image archive of one layer that
# ctr images import takes, for when docker is not there to docker save.
oci_image() {
	local name=$1 layer=$2 cmd=$3 out=$4 d
	d=$(mktemp -d)
	mkdir -p "$d/blobs/sha256"
	local ldig lsize
	ldig=$(sha256sum "$layer" | cut -d' ' -f1)
	lsize=$(stat -c %s "$layer")
	cp "$layer" "$d/blobs/sha256/$ldig"
	printf '{"architecture":"amd64","os":"linux","config":{"Cmd":%s,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$cmd" "$ldig" >"$d/config"
	local cdig csize
	cdig=$(sha256sum "$d/config" | cut -d' ' -f1)
	csize=$(stat -c %s "$d/config")
	mv "$d/config" "$d/blobs/sha256/$cdig"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$cdig" "$csize" "$ldig" "$lsize" >"$d/manifest"
	local mdig msize
	mdig=$(sha256sum "$d/manifest" | cut -d' ' -f1)
	msize=$(stat -c %s "$d/manifest")
	mv "$d/manifest" "$d/blobs/sha256/$mdig"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' "$mdig" "$msize" "$name" "${name##*:}" >"$d/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	tar -C "$d" -cf "$out" oci-layout index.json blobs
	rm -rf "$d"
}

images() {
	local ctr=(ctr --address "$SOCK" --namespace k8s.io)
	if ! "${ctr[@]}" images ls -q | grep -qx "$PAUSE_IMAGE"; then
		# The pod sandbox's image: a static process that waits, as pause does.
		local d
		d=$(mktemp -d)
		mkdir -p "$d/src" "$d/root"
		cat >"$d/src/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
GO
		(cd "$d/src" && go mod init pause >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$d/root/pause" .)
		tar -C "$d/root" -cf "$d/layer.tar" pause
		oci_image "$PAUSE_IMAGE" "$d/layer.tar" '["/pause"]' "$d/pause.tar"
		"${ctr[@]}" images import "$d/pause.tar" >/dev/null
		rm -rf "$d"
	fi
	local img=${TEST_IMAGE:-gitloop-test/debian:1}
	local full=$img
	[[ $full == */*/* || $full == localhost/* ]] || full=docker.io/$img
	if ! "${ctr[@]}" images ls -q | grep -qx "$full"; then
		if docker image inspect "$img" >/dev/null 2>&1; then
			log "importing $img (docker save | ctr images import)"
			docker save "$img" | "${ctr[@]}" images import - >/dev/null
		else
			local rootfs=${GIT_LOOP_TEST_CACHE:-/var/cache/gitloop-test}/debian-bookworm-minbase-git-amd64.tar
			[[ -f $rootfs ]] || { log "no image $img in docker and no $rootfs: run scripts/test.sh ./sandbox/docker -run Debian first"; return 1; }
			log "importing $img from $rootfs (docker has no such image)"
			local t
			t=$(mktemp)
			oci_image "$full" "$rootfs" '["bash"]' "$t"
			"${ctr[@]}" images import "$t" >/dev/null
			rm -f "$t"
		fi
	fi
}

runtime() {
	need
	mkdir -p "$RUN" "$CTRD" "$RUN/cni/net.d" "$RUN/pki" "$RUN/kubelet" "$RUN/volumes"
	cd "$RUN"
	# Credentials of this throwaway cluster: a token for the admin, a service
	# account key pair; the apiserver makes its own serving certificate.
	[[ -f pki/token ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >pki/token
	local token
	token=$(cat pki/token)
	echo "$token,admin,admin,system:masters" >pki/tokens.csv
	[[ -f pki/sa.key ]] || openssl genrsa -out pki/sa.key 2048 2>/dev/null
	openssl rsa -in pki/sa.key -pubout -out pki/sa.pub 2>/dev/null
	cat >"$KUBECONFIG_OUT" <<EOF2
apiVersion: v1
kind: Config
clusters:
- name: kube-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: kube-local
  context: {cluster: kube-local, user: admin, namespace: default}
current-context: kube-local
EOF2
	chmod 600 "$KUBECONFIG_OUT"

	cat >cni/net.d/10-gitloop.conflist <<'EOF2'
{"cniVersion": "0.4.0", "name": "gitloop-local", "plugins": [
  {"type": "bridge", "bridge": "gitloop-cni0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.217.0.0/24"}]]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF2
	cat >"$CTRD/config.toml" <<EOF2
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
EOF2
	start containerd containerd --config "$CTRD/config.toml"
	wait_for containerd 30 ctr --address "$SOCK" version
	images

}

up() {
	build
	runtime
	cd "$RUN"
	start etcd etcd --data-dir "$RUN/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls http://127.0.0.1:12380
	wait_for etcd 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ETCD_PORT"

	start apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type none --secure-port "$APISERVER_PORT" \
		--cert-dir "$RUN/pki/apiserver" --token-auth-file "$RUN/pki/tokens.csv" \
		--authorization-mode AlwaysAllow \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$RUN/pki/sa.pub" \
		--service-account-signing-key-file "$RUN/pki/sa.key" --service-cluster-ip-range 10.218.0.0/24 \
		--kubelet-preferred-address-types Hostname
	wait_for apiserver 120 kc get --raw /readyz

	start controller-manager "$BIN/kube-controller-manager" --kubeconfig "$KUBECONFIG_OUT" \
		--bind-address 127.0.0.1 --secure-port 10257 --leader-elect=false \
		--service-account-private-key-file "$RUN/pki/sa.key" \
		--controllers 'serviceaccount-controller,serviceaccount-token-controller,persistentvolume-binder-controller,persistentvolumeclaim-protection-controller,persistentvolume-protection-controller,garbage-collector-controller,namespace-controller'
	wait_for controller-manager 60 kc get serviceaccount default

	cat >"$RUN/kubelet.yaml" <<EOF2
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
address: 127.0.0.1
readOnlyPort: 0
failSwapOn: false
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
EOF2
	start kubelet "$BIN/kubelet" --config "$RUN/kubelet.yaml" --kubeconfig "$KUBECONFIG_OUT" \
		--hostname-override localhost --root-dir "$RUN/kubelet" --cert-dir "$RUN/pki/kubelet"
	wait_for kubelet 120 kc get node localhost
	wait_for kubelet 120 bash -c "kubectl --kubeconfig '$KUBECONFIG_OUT' get node localhost -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
	log "up: $(env_line)"
}

down() {
	local n
	for n in kubelet controller-manager apiserver etcd containerd; do
		if [[ -f $RUN/$n.pid ]]; then
			kill "$(cat "$RUN/$n.pid")" 2>/dev/null || true
			rm -f "$RUN/$n.pid"
		fi
	done
	log "stopped (state kept in $RUN; rm -rf it for a fresh cluster)"
}

env_line() {
	echo "export KUBECONFIG=$KUBECONFIG_OUT GIT_LOOP_TEST_KUBECONFIG=$KUBECONFIG_OUT GIT_LOOP_TEST_KUBE_LOCAL=1 GIT_LOOP_TEST_KUBE_LOCAL_VOLUMES=$RUN/volumes GIT_LOOP_TEST_KUBE_LOCAL_IMAGE=${TEST_IMAGE:-gitloop-test/debian:1}"
}

case ${1:-} in
build) build ;;
runtime) runtime ;;
up) up ;;
down) down ;;
env) env_line ;;
*)
	echo "usage: $0 build|runtime|up|down|env" >&2
	exit 2
	;;
esac
