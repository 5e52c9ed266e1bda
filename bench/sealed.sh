#!/usr/bin/env bash
# Sealed-loop benchmarks against the raw floor, in one run, as medians and
# ratios (issue 14):
#   fetch : bringing back one new commit through gitloop:: (the transport
#           alone: git fetch with fsck, the helper, upload-pack inside)
#           vs  git fetch over ext:: through the same exec (docker exec -i;
#           a bwrap jail with the same binds)
#   new   : git loop new --driver docker --detach, sealed
#           vs  git worktree add -b + docker create + docker start (CLI)
#   ls    : git loop ls of N sealed loops with nothing changed (no exec)
# Targets: fetch <= 1.3x, new <= 1.1x, ls <= 100 ms.
# Usage: bench/sealed.sh [REPS] [LOOPS]   (default 15 and 200; needs git,
# go, a Docker engine with its CLI and the Debian test image with git
# (go test ./gitloop/transport builds it), and bubblewrap)
set -euo pipefail
reps=${1:-15}
loops=${2:-200}
img=gitloop-test/debian:1
if ! docker image inspect "$img" >/dev/null 2>&1; then
	(cd "$(dirname "$0")/.." && go test -count=1 -run '^TestRealEngines$' ./gitloop/transport >/dev/null)
fi
# The Go benchmark below runs with the caller's caches (lib.sh moves HOME).
gocache=$(go env GOCACHE) gomodcache=$(go env GOMODCACHE)
. "$(dirname "$0")/lib.sh"
cleanup() {
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	docker ps -aq --filter label=dev.gitloop.bench="$$" | xargs -r docker rm -f >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 300); do mkdir -p "$repo/d$((i % 10))"; echo "$i" > "$repo/d$((i % 10))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" config loop.sandbox.image "$img"
git -C "$repo" config loop.sandbox.sealed true
git -C "$repo" loop new warm --driver docker --detach -q >/dev/null
ws=$(cat "$repo/.git/loop/id")
user="$(id -u):$(id -g)"
wt=$(git -C "$repo" loop status warm --json 2>/dev/null | sed -n 's/.*"worktree": *"\([^"]*\)".*/\1/p')
ctr="gitloop-$ws-warm"

# fetch of one new commit, docker (time_fetch in lib.sh).
time_fetch "$repo" warm "$reps" "docker exec -w $wt $ctr" "ext::docker exec -i -w $wt $ctr git %s $wt" f
f_ms=$(median_ms < "$work/f.t"); fx_ms=$(median_ms < "$work/fx.t")

# new, sealed, vs the floor (time_new_docker in lib.sh).
time_new_docker "$repo" "$img" "$user" "$ws" "$reps"
new_ms=$(median_ms < "$work/new.t"); floor_ms=$(median_ms < "$work/floor.t")

printf '%-52s %10s %10s %7s\n' "benchmark (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-52s %8sms %8sms %6sx\n' "fetch 1 commit (docker): gitloop:: vs ext::" "$f_ms" "$fx_ms" "$(ratio "$f_ms" "$fx_ms")"
printf '%-52s %8sms %8sms %6sx\n' "new --driver docker, sealed, vs worktree+create+start" "$new_ms" "$floor_ms" "$(ratio "$new_ms" "$floor_ms")"

if command -v bwrap >/dev/null && bwrap --unshare-all --share-net --ro-bind / / true 2>/dev/null; then
	git -C "$repo" loop new bw --driver bwrap --detach -q >/dev/null
	bwt=$(git -C "$repo" loop status bw --json 2>/dev/null | sed -n 's/.*"worktree": *"\([^"]*\)".*/\1/p')
	clone="$repo/.git/loop/sandbox/bw/clone"
	# As root, the clone is the sandbox user's (git loop runs git there as
	# that user): the floor's git runs as root, trusting it, and without a
	# user namespace (as git loop's bwrap as root); the commits made
	# "inside" (untimed) are made by root on the host, then given to the
	# clone's owner.
	unshare="--unshare-all"
	[ "$(id -u)" = 0 ] && unshare="--unshare-ipc --unshare-pid --unshare-uts --unshare-cgroup-try"
	jail="bwrap $unshare --share-net --die-with-parent --ro-bind / / --bind $clone $bwt --proc /proc --dev /dev --chdir $bwt --setenv GIT_CONFIG_COUNT 2 --setenv GIT_CONFIG_KEY_0 safe.directory --setenv GIT_CONFIG_VALUE_0 $bwt --setenv GIT_CONFIG_KEY_1 safe.directory --setenv GIT_CONFIG_VALUE_1 $bwt/.git"
	inbw() { # git ARGS...
		if [ "$(id -u)" = 0 ]; then
			shift
			git -C "$clone" -c safe.directory="$clone" "$@"
			chown -R "$(stat -c %u:%g "$clone")" "$clone/.git"
		else
			$jail "$@"
		fi
	}
	time_fetch "$repo" bw "$reps" inbw "ext::$jail git %s $bwt" b
	b_ms=$(median_ms < "$work/b.t"); bx_ms=$(median_ms < "$work/bx.t")
	printf '%-52s %8sms %8sms %6sx\n' "fetch 1 commit (bwrap): gitloop:: vs ext::" "$b_ms" "$bx_ms" "$(ratio "$b_ms" "$bx_ms")"
	# What git loop itself does after an exec: the connection served from
	# its own process (git's fd:: helper, no git-remote-gitloop to start),
	# the side refs with the snapshot the exec's wrapper made, the default
	# limits, against the same floor (gitloop/transport/bench_test.go);
	# then the same with the snapshot made first, as a fetch point that
	# follows no exec does it.
	bl=$(cd "$here" && GOCACHE="$gocache" GOMODCACHE="$gomodcache" go test -run '^$' -bench '^BenchmarkFetchOneCommit$' -benchtime "${reps}x" ./gitloop/transport | grep '^BenchmarkFetchOneCommit')
	metric() { echo "$bl" | awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}'; }
	printf '%-52s %8sms %8sms %6sx\n' "fetch 1 commit (bwrap) as git loop does vs ext::" "$(metric direct-ms)" "$(metric ext-ms)" "$(metric ratio)"
	printf '%-52s %8sms %8sms %6sx\n' "  the same in CPU time" "$(metric direct-cpu-ms)" "$(metric ext-cpu-ms)" "$(metric cpu-ratio)"
	printf '%-52s %8sms %8sms %6sx\n' "  with the snapshot first (a fetch point, no exec)" "$(metric snap-ms)" "$(metric ext-ms)" "$(metric snap-ratio)"
	printf '%-52s %8sms %8sms %6sx\n' "  the same in CPU time" "$(metric snap-cpu-ms)" "$(metric ext-cpu-ms)" "$(metric snap-cpu-ratio)"

	# ls of many sealed loops (bwrap: no container per loop), nothing changed.
	for i in $(seq 1 "$loops"); do git -C "$repo" loop new "l$i" --driver bwrap --detach -q >/dev/null; done
	git -C "$repo" loop ls >/dev/null 2>&1; git -C "$repo" loop ls >/dev/null 2>&1 # caches warm, each loop fetched once
	: > "$work/ls.t"
	for i in $(seq 1 "$reps"); do t0=$(now); git -C "$repo" loop ls >/dev/null; t1=$(now); echo $((t1 - t0)) >> "$work/ls.t"; done
	# The floor: ls of as many unsealed loops in a twin repository.
	twin="$work/twin"
	git init -q -b main "$twin" && cp -r "$repo/d"* "$twin/" && git -C "$twin" add -A && git -C "$twin" commit -qm init
	git -C "$twin" config loop.sandbox.sealed false # sealed is the default
	for i in $(seq 1 "$loops"); do git -C "$twin" loop new "l$i" --driver bwrap --detach -q >/dev/null; done
	git -C "$twin" loop ls >/dev/null 2>&1; git -C "$twin" loop ls >/dev/null 2>&1
	: > "$work/lsu.t"
	for i in $(seq 1 "$reps"); do t0=$(now); git -C "$twin" loop ls >/dev/null; t1=$(now); echo $((t1 - t0)) >> "$work/lsu.t"; done
	ls_ms=$(median_ms < "$work/ls.t"); lsu_ms=$(median_ms < "$work/lsu.t")
	printf '%-52s %8sms %8sms %6sx\n' "ls of $loops loops, nothing changed: sealed vs not" "$ls_ms" "$lsu_ms" "$(ratio "$ls_ms" "$lsu_ms")"
	git -C "$twin" loop uninstall --yes --force >/dev/null 2>&1 || true
fi
