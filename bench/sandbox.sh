#!/usr/bin/env bash
# Exec latency of the sandbox drivers against the raw floor: git loop's
# docker driver (ensure + exec through the API) beside "docker exec" from
# the CLI, and the bwrap driver beside a bare bwrap run. Needs a running
# engine, bwrap, and busybox-static for the test image.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-50}

echo "== git loop drivers ($n execs of true)"
go test -run '^$' -bench BenchmarkExec -benchtime "${n}x" ./sandbox/docker ./sandbox/bwrap | grep -E '^(Benchmark|ok)'

floor() { # label, command...
	local label=$1; shift
	local start end
	start=$(date +%s%N)
	for _ in $(seq "$n"); do "$@" >/dev/null; done
	end=$(date +%s%N)
	awk -v l="$label" -v d=$((end - start)) -v n="$n" 'BEGIN { printf "%-28s %8.2f ms/op\n", l, d / n / 1e6 }'
}

echo "== raw floor"
if docker image inspect gitloop-test/busybox:1 >/dev/null 2>&1; then
	c=$(docker run -d --init --label dev.gitloop.test=1 gitloop-test/busybox:1 sleep infinity)
	trap 'docker rm -f "$c" >/dev/null' EXIT
	floor "docker exec (CLI)" docker exec "$c" true
fi
if command -v bwrap >/dev/null; then
	floor "bwrap (bare)" bwrap --unshare-all --share-net --die-with-parent --ro-bind / / --proc /proc --dev /dev true
fi
