#!/usr/bin/env bash
# What a toolchain (the tiers' mise.toml) costs "git loop new", per driver,
# as medians:
#   none   : the tiers declare no toolchain (must match new without the feature)
#   first  : a toolchain never built (the real mise installs one tool, served
#            on loopback, in a throwaway sandbox)
#   cached : a toolchain an earlier loop built (found by its hash, mounted)
# against the floors of bench/sandbox.sh (docker: worktree add + docker
# create + start) and bench/run.sh (git worktree add).
# Usage: bench/toolchain.sh [REPS]   (default 10; needs git, go, python3, a
# running Docker engine with its CLI and the Debian test image, bubblewrap,
# and mise: $MISE, else scripts/install-agents.sh's, else mise on PATH)
set -euo pipefail
reps=${1:-10}
img=gitloop-test/debian:1
mise=${MISE:-/opt/git-loop-test/agents/node_modules/.bin/mise}
[ -x "$mise" ] || mise=$(command -v mise) || { echo "bench/toolchain.sh: no mise (scripts/install-agents.sh)" >&2; exit 1; }
if ! docker image inspect "$img" >/dev/null 2>&1; then
	(cd "$(dirname "$0")/.." && go test -count=1 -run '^TestExecMissingProgram$/docker' ./e2e/sandbox >/dev/null)
fi
. "$(dirname "$0")/lib.sh"
cleanup() {
	[ -n "${srv:-}" ] && kill "$srv" 2>/dev/null
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	docker ps -aq --filter label=dev.gitloop.bench="$$" | xargs -r docker rm -f >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The tool: a tarball of bin/gitloop-hello, served on loopback.
mkdir -p "$work/tool/bin" "$work/srv"
printf '#!/bin/sh\necho hello\n' > "$work/tool/bin/gitloop-hello"
chmod +x "$work/tool/bin/gitloop-hello"
tar -C "$work/tool" -czf "$work/srv/hello.tar.gz" bin
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$work/srv" && exec python3 -m http.server -b 127.0.0.1 "$port" >/dev/null 2>&1) &
srv=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/hello.tar.gz" -o /dev/null 2>/dev/null && break; sleep 0.1; done

export GIT_LOOP_HOME="$work/gl"
repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 50); do mkdir -p "$repo/d$((i % 5))"; echo "$i" > "$repo/d$((i % 5))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" config loop.sandbox.image "$img"
git -C "$repo" config loop.sandbox.network host # the server is on the host's loopback
git -C "$repo" config loop.sandbox.mise "$mise"
git -C "$repo" loop init -q >/dev/null 2>&1
tier="$GIT_LOOP_HOME/data/personal/.claude/mise.toml"
mkdir -p "$(dirname "$tier")"
toolchain() { # toolchain COMMENT: a mise.toml whose hash COMMENT changes
	printf '# %s\n[tools]\n"http:gitloop-hello" = { version = "1.0.0", url = "http://127.0.0.1:%s/hello.tar.gz", bin_path = "bin" }\n' "$1" "$port" > "$tier"
}
ws=""
n=0
time_new() { # time_new DRIVER OUT: one new, its time appended to OUT
	n=$((n + 1))
	local t0 t1
	t0=$(now); git -C "$repo" loop new "t$n" --driver "$1" --detach -q >/dev/null; t1=$(now)
	echo $((t1 - t0)) >> "$work/$2"
	[ -n "$ws" ] || ws=$(cat "$repo/.git/loop/id")
	[ "$1" = docker ] && docker rm -f "gitloop-$ws-t$n" >/dev/null
	return 0
}

printf '%-52s %10s\n' "benchmark (median of $reps, $(nproc) cores)" "new"
for driver in docker bwrap; do
	rm -f "$tier"; time_new "$driver" warm.t # engine warm
	toolchain cached; time_new "$driver" warm.t # the cached toolchain built
	: > "$work/none-$driver.t"; : > "$work/first-$driver.t"; : > "$work/cached-$driver.t"
	for i in $(seq 1 "$reps"); do
		rm -f "$tier"; time_new "$driver" "none-$driver.t"
		toolchain "first $driver $i"; time_new "$driver" "first-$driver.t"
		toolchain cached; time_new "$driver" "cached-$driver.t"
	done
	for k in none first cached; do
		printf '%-52s %8sms\n' "new --driver $driver, toolchain: $k" "$(median_ms < "$work/$k-$driver.t")"
	done
done

# The floors, as bench/sandbox.sh and bench/run.sh take them.
user="$(id -u):$(id -g)"
: > "$work/floor.t"; : > "$work/wt.t"
for i in $(seq 1 "$reps"); do
	wt="$work/floor-$i"
	t0=$(now)
	git -C "$repo" worktree add -q -b "floor/$i" "$wt" main
	c=$(docker create --init --label dev.gitloop.bench=$$ --user "$user" -v "$wt:$wt" -w "$wt" "$img" sleep infinity)
	docker start "$c" >/dev/null
	t1=$(now); echo $((t1 - t0)) >> "$work/floor.t"
	docker rm -f "$c" >/dev/null
	t0=$(now); git -C "$repo" worktree add -q -b "wt/$i" "$work/wt-$i" main; t1=$(now)
	echo $((t1 - t0)) >> "$work/wt.t"
done
printf '%-52s %8sms\n' "floor: worktree add + docker create + start" "$(median_ms < "$work/floor.t")"
printf '%-52s %8sms\n' "floor: git worktree add -b" "$(median_ms < "$work/wt.t")"
