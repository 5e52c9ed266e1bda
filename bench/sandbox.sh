#!/usr/bin/env bash
# Sandbox benchmarks against the raw floor, in one run on this machine, as
# medians and ratios:
#   new  : git loop new --driver docker --detach
#          vs  git worktree add -b + docker create + docker start (CLI)
#   exec : git loop exec LOOP -- true   vs  docker exec CONTAINER true,
#          for a sealed loop (the default: the exec's wrapper records the
#          snapshot, the host reads the clone's refs as data), a sealed
#          one with uncommitted work (the snapshot is there and stays),
#          and an unsealed one
#          git loop exec LOOP -- true   vs  bare bwrap true   (bwrap driver,
#          each sandbox.network: isolated starts pasta per exec; sealed
#          and unsealed)
# Targets: new <= 1.1x, exec <= 1.1x.
# Usage: bench/sandbox.sh [REPS]   (default 15; needs git, go, a running
# Docker engine with its CLI, the Debian test image (sealed loops need git
# in the image), and bubblewrap for its rows)
set -euo pipefail
reps=${1:-15}
img=gitloop-test/debian:1
# The test image (Debian with git), built by the Go helper the tests use
# when the engine does not have it yet (with the caller's Go caches:
# lib.sh moves HOME).
if ! docker image inspect "$img" >/dev/null 2>&1; then
	(cd "$(dirname "$0")/.." && go test -count=1 -run '^TestRealEngines$' ./gitloop/transport >/dev/null)
fi
. "$(dirname "$0")/lib.sh"   # $here, $work, git-loop built onto PATH, hermetic HOME and git identity, timing helpers
cleanup() {
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	docker ps -aq --filter label=dev.gitloop.bench="$$" | xargs -r docker rm -f >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 50); do mkdir -p "$repo/d$((i % 5))"; echo "$i" > "$repo/d$((i % 5))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" config loop.sandbox.image "$img"
git -C "$repo" loop new warm --driver docker --detach -q >/dev/null # workspace id, engine warm; sealed
GIT_LOOP_SANDBOX_SEALED=false git -C "$repo" loop new warmu --driver docker --detach -q >/dev/null
git -C "$repo" loop new warmd --driver docker --detach -q >/dev/null
git -C "$repo" loop exec warmd -- sh -c 'echo wip >> d1/f1.txt; echo new > new.txt'
ws=$(cat "$repo/.git/loop/id")
user="$(id -u):$(id -g)"

# new vs the floor (time_new_docker in lib.sh).
time_new_docker "$repo" "$img" "$user" "$ws" "$reps"
new_ms=$(median_ms < "$work/new.t"); floor_ms=$(median_ms < "$work/floor.t")

# exec vs docker exec, in the loops' own containers and a plain one.
c=$(docker run -d --init --label dev.gitloop.bench=$$ --user "$user" "$img" sleep infinity)
: > "$work/exec.t"; : > "$work/execu.t"; : > "$work/execd.t"; : > "$work/dexec.t"
for i in $(seq 1 "$reps"); do
	t0=$(now); docker exec "$c" true; t1=$(now); echo $((t1 - t0)) >> "$work/dexec.t"
	t0=$(now); git -C "$repo" loop exec warm -- true; t1=$(now); echo $((t1 - t0)) >> "$work/exec.t"
	t0=$(now); git -C "$repo" loop exec warmu -- true; t1=$(now); echo $((t1 - t0)) >> "$work/execu.t"
	t0=$(now); git -C "$repo" loop exec warmd -- true; t1=$(now); echo $((t1 - t0)) >> "$work/execd.t"
done
exec_ms=$(median_ms < "$work/exec.t"); execu_ms=$(median_ms < "$work/execu.t"); execd_ms=$(median_ms < "$work/execd.t"); dexec_ms=$(median_ms < "$work/dexec.t")

printf '%-56s %10s %10s %7s\n' "benchmark (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-56s %8sms %8sms %6sx\n' "new --driver docker vs worktree+create+start" "$new_ms" "$floor_ms" "$(ratio "$new_ms" "$floor_ms")"
printf '%-56s %8sms %8sms %6sx\n' "exec -- true (docker, sealed) vs docker exec" "$exec_ms" "$dexec_ms" "$(ratio "$exec_ms" "$dexec_ms")"
printf '%-56s %8sms %8sms %6sx\n' "exec -- true (docker, sealed, uncommitted) vs docker exec" "$execd_ms" "$dexec_ms" "$(ratio "$execd_ms" "$dexec_ms")"
printf '%-56s %8sms %8sms %6sx\n' "exec -- true (docker, unsealed) vs docker exec" "$execu_ms" "$dexec_ms" "$(ratio "$execu_ms" "$dexec_ms")"

if command -v bwrap >/dev/null && bwrap --unshare-all --share-net --ro-bind / / true 2>/dev/null; then
	git -C "$repo" loop new bw --driver bwrap --detach -q >/dev/null
	GIT_LOOP_SANDBOX_SEALED=false git -C "$repo" loop new bwu --driver bwrap --detach -q >/dev/null
	# Each sandbox.network policy (through its environment variable), the
	# same bare bwrap as the floor: the isolated row's extra over none is
	# what starting pasta (or slirp4netns) costs per exec.
	: > "$work/bare.t"
	for net in isolated none host; do : > "$work/bexec-$net.t"; : > "$work/bexecu-$net.t"; done
	for i in $(seq 1 "$reps"); do
		t0=$(now); bwrap --unshare-all --share-net --die-with-parent --ro-bind / / --proc /proc --dev /dev true; t1=$(now); echo $((t1 - t0)) >> "$work/bare.t"
		for net in isolated none host; do
			t0=$(now); GIT_LOOP_SANDBOX_NETWORK=$net git -C "$repo" loop exec bw -- true; t1=$(now); echo $((t1 - t0)) >> "$work/bexec-$net.t"
			t0=$(now); GIT_LOOP_SANDBOX_NETWORK=$net git -C "$repo" loop exec bwu -- true; t1=$(now); echo $((t1 - t0)) >> "$work/bexecu-$net.t"
		done
	done
	bare_ms=$(median_ms < "$work/bare.t")
	for net in isolated none host; do
		ms=$(median_ms < "$work/bexec-$net.t"); msu=$(median_ms < "$work/bexecu-$net.t")
		printf '%-56s %8sms %8sms %6sx\n' "exec -- true (bwrap, network $net, sealed) vs bare bwrap" "$ms" "$bare_ms" "$(ratio "$ms" "$bare_ms")"
		printf '%-56s %8sms %8sms %6sx\n' "exec -- true (bwrap, network $net, unsealed) vs bare" "$msu" "$bare_ms" "$(ratio "$msu" "$bare_ms")"
		printf '%-56s %8sms %8sms %6sx\n' "exec -- true (bwrap, network $net) sealed vs unsealed" "$ms" "$msu" "$(ratio "$ms" "$msu")"
		eval "bexec_$net=$ms"
	done
	printf '%-56s %8sms %8sms %6sx\n' "exec -- true (bwrap sealed, isolated vs none)" "$bexec_isolated" "$bexec_none" "$(ratio "$bexec_isolated" "$bexec_none")"
	printf '%-56s %8sms %8sms %6sx\n' "exec -- true (bwrap sealed isolated) vs docker exec" "$bexec_isolated" "$dexec_ms" "$(ratio "$bexec_isolated" "$dexec_ms")"
fi
