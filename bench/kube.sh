#!/usr/bin/env bash
# Kubernetes benchmarks against the raw floor, in one run, as medians and
# ratios (issue 17), on scripts/kube-local.sh's real single-node cluster
# (an apiserver, a kubelet and containerd on this machine; no scheduler,
# so sandbox.kube.node names the node; no provisioner, so a hostPath
# volume is made here for each claim):
#   new   : git loop new --driver kubernetes --detach (a claim and a pod,
#           the branch pushed in over gitloop::, the rest as tar streams)
#           vs  kubectl apply of a claim and a pod mounting it, kubectl
#               wait for Ready, and a push of the branch over
#               ext::kubectl exec (git init, git-receive-pack)
#   exec  : git loop exec NAME -- true  vs  kubectl exec POD -- true
#   fetch : bringing back one new commit through gitloop:: (the helper,
#           fsck, upload-pack inside over the API server's exec)
#           vs  git fetch over ext::kubectl exec -i
# Targets: new <= 1.3x, fetch <= 1.3x.
# Usage: eval "$(scripts/kube-local.sh env)"; bench/kube.sh [REPS]   (default 5)
set -euo pipefail
reps=${1:-5}
: "${KUBECONFIG:?eval \"\$(scripts/kube-local.sh env)\" first}"
: "${GIT_LOOP_TEST_KUBE_LOCAL_VOLUMES:?eval \"\$(scripts/kube-local.sh env)\" first}"
img=${GIT_LOOP_TEST_KUBE_LOCAL_IMAGE:-gitloop-test/debian:1}
class=gitloop-local
ns=gitloop-bench-$$
. "$(dirname "$0")/lib.sh"
export KUBECONFIG
kubectl get --raw /readyz >/dev/null
cleanup() {
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
	kubectl delete pv -l dev.gitloop.bench="$$" --wait=false >/dev/null 2>&1 || true
	rm -rf "$work" "$GIT_LOOP_TEST_KUBE_LOCAL_VOLUMES"/bench-$$-*
}
trap cleanup EXIT

# pvs N: N volumes for claims to bind to, as a provisioner with fsGroup
# support would give a pod of gid 1000.
pvs() {
	local i d
	for i in $(seq 1 "$1"); do
		d="$GIT_LOOP_TEST_KUBE_LOCAL_VOLUMES/bench-$$-$2-$i"
		mkdir -p "$d" && chgrp 1000 "$d" && chmod 2775 "$d"
		printf 'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: bench-%s-%s-%s, labels: {dev.gitloop.bench: "%s"}}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], storageClassName: %s, persistentVolumeReclaimPolicy: Retain, hostPath: {path: %s, type: Directory}}\n' \
			"$$" "$2" "$i" "$$" "$class" "$d"
		echo ---
	done | kubectl apply -f - >/dev/null
}
kubectl create namespace "$ns" >/dev/null
until kubectl -n "$ns" get serviceaccount default >/dev/null 2>&1; do sleep 0.2; done
pvs $((2 * reps + 1)) v

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 300); do mkdir -p "$repo/d$((i % 10))"; echo "$i" > "$repo/d$((i % 10))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
for kv in "sandbox.image $img" "sandbox.kube.namespace $ns" "sandbox.kube.node localhost" \
	"sandbox.kube.storageClass $class" "sandbox.kube.storage 1Gi"; do
	git -C "$repo" config "loop.${kv%% *}" "${kv#* }"
done
git -C "$repo" loop new warm --driver kubernetes --detach -q >/dev/null
ws=$(cat "$repo/.git/loop/id")
wt="$repo/.git/loop/loops/warm/workdir"
pod="gitloop-$ws-warm"
k() { kubectl -n "$ns" "$@"; }

# new vs its floor, alternating; what each made goes between rounds
# (untimed) so the cluster's load stays flat.
: > "$work/new.t"; : > "$work/floor.t"
for i in $(seq 1 "$reps"); do
	fw="/srv/floor"
	t0=$(now)
	k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: floor-$i}
spec: {accessModes: [ReadWriteOnce], storageClassName: $class, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: floor-$i}
spec:
  nodeName: localhost
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  securityContext: {runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true}
  volumes: [{name: data, persistentVolumeClaim: {claimName: floor-$i}}]
  containers:
  - {name: c, image: $img, command: [sleep, infinity], workingDir: $fw, volumeMounts: [{name: data, mountPath: $fw, subPath: work}]}
YAML
	k wait --for=condition=Ready "pod/floor-$i" --timeout=120s >/dev/null
	git -C "$repo" branch -q "floor/$i" main
	git -C "$repo" -c protocol.ext.allow=always push -q "ext::kubectl -n $ns exec -i floor-$i -- sh -c git% init% -q% $fw% &&% exec% git-receive-pack% $fw" "floor/$i:refs/heads/floor"
	t1=$(now)
	echo $((t1 - t0)) >> "$work/floor.t"
	t0=$(now); git -C "$repo" loop new "n$i" --driver kubernetes --detach -q >/dev/null; t1=$(now)
	echo $((t1 - t0)) >> "$work/new.t"
	k delete pod "floor-$i" --grace-period=0 --force >/dev/null 2>&1; k delete pvc "floor-$i" --wait=false >/dev/null
	git -C "$repo" loop rm "n$i" --force -q >/dev/null 2>&1
	# The kubelet's teardown (with the native snapshotter, a rootfs
	# removed file by file) would land in the next round's timing.
	k wait --for=delete "pod/floor-$i" "pod/gitloop-$ws-n$i" --timeout=120s >/dev/null 2>&1 || true
	sleep 2
done
new_ms=$(median_ms < "$work/new.t"); floor_ms=$(median_ms < "$work/floor.t")
echo "new (ms): $(awk '{printf "%d ", $1/1e6}' "$work/new.t")  floor: $(awk '{printf "%d ", $1/1e6}' "$work/floor.t")" >&2

# an exec's round trip, alternating.
: > "$work/e.t"; : > "$work/ex.t"
for i in $(seq 1 "$reps"); do
	t0=$(now); git -C "$repo" loop exec warm -- true; t1=$(now); echo $((t1 - t0)) >> "$work/e.t"
	t0=$(now); k exec "$pod" -- true; t1=$(now); echo $((t1 - t0)) >> "$work/ex.t"
done
e_ms=$(median_ms < "$work/e.t"); ex_ms=$(median_ms < "$work/ex.t")

# fetch of one new commit: each timed fetch has one new commit to bring,
# made inside (untimed), alternating the two transports.
fetch() { git -C "$repo" -c protocol.allow=never -c "protocol.$1.allow=always" -c transfer.fsckObjects=true \
	fetch -q --no-tags --no-write-fetch-head "$2" "+refs/heads/loop/warm:$3"; }
inside() { git -C "$repo" loop exec warm -- git -c user.name=b -c user.email=b@example.com commit -q --allow-empty -m "$1" >/dev/null; }
: > "$work/f.t"; : > "$work/fx.t"
for i in $(seq 1 "$reps"); do
	inside "a$i"
	t0=$(now); fetch gitloop gitloop::warm refs/gitloop/warm/head; t1=$(now); echo $((t1 - t0)) >> "$work/f.t"
	inside "b$i"
	t0=$(now); fetch ext "ext::kubectl -n $ns exec -i $pod -- git -C $wt %s ." refs/bench/head; t1=$(now); echo $((t1 - t0)) >> "$work/fx.t"
done
f_ms=$(median_ms < "$work/f.t"); fx_ms=$(median_ms < "$work/fx.t")

printf '%-58s %10s %10s %7s\n' "benchmark on kube-local (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-58s %8sms %8sms %6sx\n' "new vs apply+wait+init+push over ext::kubectl exec" "$new_ms" "$floor_ms" "$(ratio "$new_ms" "$floor_ms")"
printf '%-58s %8sms %8sms %6sx\n' "exec true vs kubectl exec true" "$e_ms" "$ex_ms" "$(ratio "$e_ms" "$ex_ms")"
printf '%-58s %8sms %8sms %6sx\n' "fetch 1 commit: gitloop:: vs ext::kubectl exec" "$f_ms" "$fx_ms" "$(ratio "$f_ms" "$fx_ms")"
