#!/usr/bin/env bash
# Remote-placement benchmarks against the raw floor, in one run, as
# medians and ratios (issue 17), on a Docker engine that cannot see this
# host (the second test engine: dockerd in a container, over tcp):
#   new   : git loop new --driver docker --detach, placement remote (a
#           container with its clone, $HOME and agent dir on volumes,
#           seeded by one exec: a tar stream of the files, then the push
#           of the branch over fd:: and its checkout)
#           vs  docker -H … create + start (a volume at the clone's path)
#               + git init and a push of the branch over ext::docker exec
#   fetch : bringing back one new commit through gitloop:: (the helper,
#           fsck, upload-pack inside over the engine's exec)
#           vs  git fetch over ext::docker -H … exec -i
# Targets: new <= 1.3x, fetch <= 1.3x.
# Usage: bench/remote.sh [REPS] [DOCKER_HOST]   (default 9, and the second
# test engine, which "go test ./e2e/sandbox -run TestRemoteEngineLoopLife"
# starts and loads the Debian test image into)
# With BASE=/path/to/an/older/git-loop, each round also times that
# binary's new, in turn with this tree's and the floor's (an A/B on the
# same machine state).
set -euo pipefail
reps=${1:-9}
host=${2:-}
img=gitloop-test/debian:1
if [ -z "$host" ]; then
	port=$(docker port gitloop-test-engine2 2375 2>/dev/null | head -1 | sed 's/.*://')
	[ -n "$port" ] || { echo "no second engine: run go test ./e2e/sandbox -run TestRemoteEngineLoopLife first, or give a DOCKER_HOST" >&2; exit 2; }
	host="tcp://127.0.0.1:$port"
fi
docker -H "$host" image inspect "$img" >/dev/null
. "$(dirname "$0")/lib.sh"
export DOCKER_HOST="$host"
cleanup() {
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	docker ps -aq --filter label=dev.gitloop.bench="$$" | xargs -r docker rm -f >/dev/null
	docker volume ls -q --filter label=dev.gitloop.bench="$$" | xargs -r docker volume rm -f >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 300); do mkdir -p "$repo/d$((i % 10))"; echo "$i" > "$repo/d$((i % 10))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" config loop.sandbox.image "$img"
git -C "$repo" config loop.sandbox.placement remote
if [ -n "${BASE:-}" ]; then
	mkdir -p "$work/base" && cp "$BASE" "$work/base/git-loop" && ln -sf git-loop "$work/base/git-remote-gitloop"
	: > "$work/base.t"
fi
git -C "$repo" loop new warm --driver docker --detach -q >/dev/null
ws=$(cat "$repo/.git/loop/id")
wt="$repo/.git/loop/loops/warm/workdir"
ctr="gitloop-$ws-warm"

# new vs its floor, alternating; what each made goes between rounds
# (untimed) so the engine's load stays flat.
: > "$work/new.t"; : > "$work/floor.t"
for i in $(seq 1 "$reps"); do
	fw="/srv/floor-$i"
	t0=$(now)
	c=$(docker create --init --label dev.gitloop.bench=$$ --mount "type=volume,src=bench-$$-$i,dst=$fw,volume-label=dev.gitloop.bench=$$" -w "$fw" "$img" sleep infinity)
	docker start "$c" >/dev/null
	git -C "$repo" branch -q "floor/$i" main
	git -C "$repo" -c protocol.ext.allow=always push -q "ext::docker exec -i $c sh -c git% init% -q% $fw% &&% exec% git-receive-pack% $fw" "floor/$i:refs/heads/floor"
	t1=$(now)
	echo $((t1 - t0)) >> "$work/floor.t"
	t0=$(now); git -C "$repo" loop new "n$i" --driver docker --detach -q >/dev/null; t1=$(now)
	echo $((t1 - t0)) >> "$work/new.t"
	if [ -n "${BASE:-}" ]; then
		t0=$(now); PATH="$work/base:$PATH" git -C "$repo" loop new "b$i" --driver docker --detach -q >/dev/null; t1=$(now)
		echo $((t1 - t0)) >> "$work/base.t"
		git -C "$repo" loop rm "b$i" --force -q >/dev/null 2>&1
	fi
	docker rm -f "$c" >/dev/null; docker volume rm -f "bench-$$-$i" >/dev/null
	git -C "$repo" loop rm "n$i" --force -q >/dev/null 2>&1
done
new_ms=$(median_ms < "$work/new.t"); floor_ms=$(median_ms < "$work/floor.t")
[ -z "${BASE:-}" ] || base_ms=$(median_ms < "$work/base.t")

# fetch of one new commit (time_fetch in lib.sh).
time_fetch "$repo" warm "$reps" "docker exec -w $wt $ctr" "ext::docker exec -i -w $wt $ctr git %s $wt" f
f_ms=$(median_ms < "$work/f.t"); fx_ms=$(median_ms < "$work/fx.t")

printf '%-58s %10s %10s %7s\n' "benchmark on $host (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-58s %8sms %8sms %6sx\n' "new, placement remote, vs create+start+init+push" "$new_ms" "$floor_ms" "$(ratio "$new_ms" "$floor_ms")"
[ -z "${BASE:-}" ] || printf '%-58s %8sms %8sms %6sx\n' "new with BASE ($BASE)" "$base_ms" "$floor_ms" "$(ratio "$base_ms" "$floor_ms")"
printf '%-58s %8sms %8sms %6sx\n' "fetch 1 commit: gitloop:: vs ext::docker exec" "$f_ms" "$fx_ms" "$(ratio "$f_ms" "$fx_ms")"
