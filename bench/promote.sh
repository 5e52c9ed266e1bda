#!/usr/bin/env bash
# Benchmarks "git loop promote" of a notes change against the plain git
# commands it replaces, in a notes repo of 1,000 files, and prints the
# ratio of the medians:
#   promote : git loop promote NAME --layer notes   (from the loop's notes worktree)
#   floor   : git fetch + git merge origin/main + git push  (in a plain clone)
# Before every timed run a teammate pushes a change, so both sides really
# fetch, merge and push.
# Usage: bench/promote.sh [REPS]   (default 15; needs git and go)
set -euo pipefail
reps=${1:-15}
. "$(dirname "$0")/lib.sh"   # $here, $work (removed on exit), git-loop built onto PATH, hermetic HOME and git identity, timing helpers
export GIT_LOOP_HOME="$work/loophome"

repo="$work/repo"
git init -q -b main "$repo"
echo "# bench" > "$repo/README.md"
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" loop init -q
origin="$GIT_LOOP_HOME/data/origins/notes.git"

# 1,000 files in the notes repo, pushed by a teammate.
git clone -q "$origin" "$work/mate"
for i in $(seq 1 1000); do mkdir -p "$work/mate/d$((i % 20))"; echo "note $i" > "$work/mate/d$((i % 20))/n$i.md"; done
git -C "$work/mate" add -A && git -C "$work/mate" commit -qm "1000 notes" && git -C "$work/mate" push -q origin HEAD:main
git clone -q "$origin" "$work/floor"
git -C "$repo" loop new bench --driver none --detach -q --context latest > /dev/null
ctx="$repo/.git/loop/loops/bench/context/notes"

teammate() { echo "$1" >> "$work/mate/d0/team.md"; git -C "$work/mate" add -A; git -C "$work/mate" commit -qm "team $1"; git -C "$work/mate" pull -q --no-rebase --no-edit origin main; git -C "$work/mate" push -q origin HEAD:main; }

: > "$work/promote.t"; : > "$work/floor.t"
for i in $(seq 1 "$reps"); do
  teammate "a$i"
  echo "$i" >> "$ctx/d1/loop.md"; git -C "$ctx" add -A; git -C "$ctx" commit -qm "loop $i"
  t0=$(now); git -C "$repo" loop promote bench --layer notes -q > /dev/null; t1=$(now)
  echo $((t1 - t0)) >> "$work/promote.t"

  teammate "b$i"
  echo "$i" >> "$work/floor/d2/floor.md"; git -C "$work/floor" add -A; git -C "$work/floor" commit -qm "floor $i"
  t0=$(now)
  git -C "$work/floor" fetch -q origin
  git -C "$work/floor" merge -q --no-edit origin/main
  git -C "$work/floor" push -q origin HEAD:main
  t1=$(now)
  echo $((t1 - t0)) >> "$work/floor.t"
done
p=$(median_ms < "$work/promote.t"); f=$(median_ms < "$work/floor.t")
printf "promote (notes, 1,000 files): %s ms   fetch+merge+push: %s ms   ratio %sx\n" "$p" "$f" "$(ratio "$p" "$f")"
