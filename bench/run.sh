#!/usr/bin/env bash
# Benchmarks git loop against the raw floor it is built on, in one run on
# this machine, and prints the ratios:
#   new  : git loop new --driver none --detach   vs  git worktree add -b
#   ls   : git loop ls with 200 loops            vs  git worktree list
#          (and the naive way: git status + git rev-list per loop)
# Usage: bench/run.sh [REPS]   (default 15; needs git and go)
set -euo pipefail
reps=${1:-15}
. "$(dirname "$0")/lib.sh"   # $here, $work (removed on exit), git-loop built onto PATH, hermetic HOME and git identity, timing helpers

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 50); do mkdir -p "$repo/d$((i % 5))"; echo "$i" > "$repo/d$((i % 5))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init

# new vs git worktree add, alternating so both see the same machine state.
: > "$work/new.t"; : > "$work/floor.t"
for i in $(seq 1 "$reps"); do
  t0=$(now); git -C "$repo" worktree add -q -b "floor/$i" "$work/floor-$i" main; t1=$(now)
  echo $((t1 - t0)) >> "$work/floor.t"
  t0=$(now); git -C "$repo" loop new "n$i" --driver none --detach -q > /dev/null; t1=$(now)
  echo $((t1 - t0)) >> "$work/new.t"
done
new_ms=$(median_ms < "$work/new.t"); floor_ms=$(median_ms < "$work/floor.t")

# ls with 200 loops (each with ahead/behind and dirty state).
for i in $(seq $((reps + 1)) 200); do git -C "$repo" loop new "n$i" --driver none --detach -q > /dev/null; done
for i in $(seq 1 20); do git -C "$repo/.git/loop/loops/n$i/workdir" commit -q --allow-empty -m "work $i"; echo wip > "$repo/.git/loop/loops/n$i/workdir/wip.txt"; done
git -C "$repo" loop ls > /dev/null   # first run fills the status cache
: > "$work/ls.t"; : > "$work/wl.t"; : > "$work/naive.t"
for i in $(seq 1 "$reps"); do
  t0=$(now); git -C "$repo" loop ls > /dev/null; t1=$(now); echo $((t1 - t0)) >> "$work/ls.t"
  t0=$(now); git -C "$repo" worktree list > /dev/null; t1=$(now); echo $((t1 - t0)) >> "$work/wl.t"
done
for i in 1 2 3; do
  t0=$(now)
  for n in $(seq 1 200); do
    git -C "$repo/.git/loop/loops/n$n/workdir" status --porcelain > /dev/null
    git -C "$repo" rev-list --left-right --count "loop/n$n...main" > /dev/null
  done
  t1=$(now); echo $((t1 - t0)) >> "$work/naive.t"
done
# A cold ls: every loop's cache invalidated (its index touched).
: > "$work/cold.t"
for i in 1 2 3; do
  for n in $(seq 1 200); do admin=$(sed 's/^gitdir: //' "$repo/.git/loop/loops/n$n/workdir/.git"); touch "$admin/index"; done
  find "$repo/.git/loop/loops" -name status-cache.json -delete
  t0=$(now); git -C "$repo" loop ls > /dev/null; t1=$(now); echo $((t1 - t0)) >> "$work/cold.t"
done
ls_ms=$(median_ms < "$work/ls.t"); wl_ms=$(median_ms < "$work/wl.t"); naive_ms=$(median_ms < "$work/naive.t"); cold_ms=$(median_ms < "$work/cold.t")

printf '%-44s %10s %10s %7s\n' "benchmark (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-44s %8sms %8sms %6sx\n' "new --driver none vs git worktree add -b" "$new_ms" "$floor_ms" "$(ratio "$new_ms" "$floor_ms")"
printf '%-44s %8sms %8sms %6sx\n' "ls, 200 loops vs git worktree list" "$ls_ms" "$wl_ms" "$(ratio "$ls_ms" "$wl_ms")"
printf '%-44s %8sms %8sms %6sx\n' "ls, 200 loops vs naive status+rev-list" "$ls_ms" "$naive_ms" "$(ratio "$ls_ms" "$naive_ms")"
printf '%-44s %8sms %8sms %6sx\n' "ls cold (no cache), 200 loops vs naive" "$cold_ms" "$naive_ms" "$(ratio "$cold_ms" "$naive_ms")"
