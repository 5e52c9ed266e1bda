#!/usr/bin/env bash
# Promote and sync of a sealed loop vs the same on an unsealed one, per
# driver, in one run, as medians and ratios (issue 14, sealed-land):
#   promote : git loop promote NAME --layer code, one new commit made
#             inside (untimed), proposed to a bare origin: sealed fetches
#             first, then pushes loop/NAME from the host
#   sync    : git loop sync NAME after main moved on origin (untimed):
#             sealed pushes main into the sandbox, merges there, fetches
#             back; unsealed merges in the host worktree
# Usage: bench/sealedland.sh [REPS]   (default 9; needs git, go, a Docker
# engine with the Debian test image with git (go test ./gitloop/transport
# builds it), and bubblewrap)
set -euo pipefail
reps=${1:-9}
img=gitloop-test/debian:1
if ! docker image inspect "$img" >/dev/null 2>&1; then
	(cd "$(dirname "$0")/.." && go test -count=1 -run '^TestRealEngines$' ./gitloop/transport >/dev/null)
fi
. "$(dirname "$0")/lib.sh"
cleanup() {
	git -C "$work/repo" loop uninstall --yes --force >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# The sandbox's git carries the user's identity from ~/.gitconfig.
git config --global user.name bench && git config --global user.email bench@example.com
repo="$work/repo"
git init -q --bare -b main "$work/origin.git"
git init -q -b main "$repo"
for i in $(seq 1 300); do mkdir -p "$repo/d$((i % 10))"; echo "$i" > "$repo/d$((i % 10))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" remote add origin "$work/origin.git"
git -C "$repo" push -q -u origin main
git -C "$repo" config loop.sandbox.image "$img"

mk() { GIT_LOOP_SANDBOX_SEALED=$3 git -C "$repo" loop new "$1" --driver "$2" --detach -q >/dev/null; }
commit_in() { git -C "$repo" loop exec "$1" -- sh -c "echo $2 >> work.txt && git add work.txt && git commit -qm $2" >/dev/null; }
timed() { local out=$1; shift; local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); echo $((t1 - t0)) >> "$out"; }
move_main() {
	git -C "$repo" commit -q --allow-empty -m "main $1"
	git -C "$repo" push -q origin main
}

printf '%-44s %10s %10s %7s\n' "benchmark (median of $reps, $(nproc) cores)" "sealed" "unsealed" "ratio"
for d in bwrap docker; do
	mk "s-$d" "$d" true
	mk "u-$d" "$d" false
	: > "$work/ps.t"; : > "$work/pu.t"; : > "$work/ss.t"; : > "$work/su.t"
	for i in $(seq 1 "$reps"); do
		commit_in "s-$d" "s$i"; commit_in "u-$d" "u$i"
		timed "$work/ps.t" git -C "$repo" loop promote "s-$d" --layer code
		timed "$work/pu.t" git -C "$repo" loop promote "u-$d" --layer code
		move_main "$d$i"
		timed "$work/ss.t" git -C "$repo" loop sync "s-$d"
		timed "$work/su.t" git -C "$repo" loop sync "u-$d"
	done
	ps=$(median_ms < "$work/ps.t"); pu=$(median_ms < "$work/pu.t")
	ss=$(median_ms < "$work/ss.t"); su=$(median_ms < "$work/su.t")
	printf '%-44s %8sms %8sms %6sx\n' "promote --layer code ($d)" "$ps" "$pu" "$(ratio "$ps" "$pu")"
	printf '%-44s %8sms %8sms %6sx\n' "sync after main moved ($d)" "$ss" "$su" "$(ratio "$ss" "$su")"
	for l in "s-$d" "u-$d"; do
		git -C "$repo" merge-base --is-ancestor origin/main "loop/$l" || echo "sync of $l did not bring main in" >&2
		[ "$(git -C "$work/origin.git" rev-parse "loop/$l")" = "$(git -C "$repo" rev-parse "loop/$l~1")" ] || echo "promote of $l did not push its last commit" >&2
	done
done
