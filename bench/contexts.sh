#!/usr/bin/env bash
# Benchmarks what a loop's context layers cost "git loop new", in one run
# on this machine: new with knowledge and notes (git loop init done) on
# bwrap, where docker and bwrap loops get context clones of their own
# (alternates onto the user's clones), and on none, where they are linked
# worktrees of the user's clones; against the floor, git worktree add -b of
# the code alone. And a notes promote of one commit from a bwrap loop
# (fetched through the transport, pushed from the user's clone).
# And a personal promote of one memory file a bwrap loop wrote in its own
# memory (read as data, committed in the user's personal clone, pushed).
# Usage: bench/contexts.sh [REPS]   (default 15; needs git, go, bwrap)
set -euo pipefail
reps=${1:-15}
. "$(dirname "$0")/lib.sh"

repo="$work/repo"
git init -q -b main "$repo"
for i in $(seq 1 50); do mkdir -p "$repo/d$((i % 5))"; echo "$i" > "$repo/d$((i % 5))/f$i.txt"; done
git -C "$repo" add -A && git -C "$repo" commit -qm init
git -C "$repo" loop init -q

: > "$work/floor.t"; : > "$work/bwrap.t"; : > "$work/none.t"; : > "$work/promote.t"; : > "$work/memory.t"
for i in $(seq 1 "$reps"); do
  t0=$(now); git -C "$repo" worktree add -q -b "floor/$i" "$work/floor-$i" main; t1=$(now)
  echo $((t1 - t0)) >> "$work/floor.t"
  t0=$(now); git -C "$repo" loop new "b$i" --driver bwrap --detach -q > /dev/null; t1=$(now)
  echo $((t1 - t0)) >> "$work/bwrap.t"
  t0=$(now); git -C "$repo" loop new "n$i" --driver none --detach -q > /dev/null; t1=$(now)
  echo $((t1 - t0)) >> "$work/none.t"
done
for i in $(seq 1 "$reps"); do
  git -C "$repo" loop exec "b$i" -- sh -c 'cd "$GIT_LOOP_NOTES" && echo x > "n$GIT_LOOP_NAME.md" && git add . && git -c user.name=b -c user.email=b@x commit -qm n' > /dev/null
  t0=$(now); git -C "$repo" loop promote "b$i" --layer notes -q > /dev/null 2>&1; t1=$(now)
  echo $((t1 - t0)) >> "$work/promote.t"
  # The loop's own personal memory: one new file, landed in the user's
  # personal clone and pushed.
  git -C "$repo" loop exec "b$i" -- sh -c 'echo learned > "$GIT_LOOP_PERSONAL/memory/m$GIT_LOOP_NAME.md"' > /dev/null
  t0=$(now); git -C "$repo" loop promote "b$i" --layer personal -q > /dev/null 2>&1; t1=$(now)
  echo $((t1 - t0)) >> "$work/memory.t"
done
floor_ms=$(median_ms < "$work/floor.t"); bwrap_ms=$(median_ms < "$work/bwrap.t"); none_ms=$(median_ms < "$work/none.t"); promote_ms=$(median_ms < "$work/promote.t"); memory_ms=$(median_ms < "$work/memory.t")

printf '%-48s %10s %10s %7s\n' "benchmark (median of $reps, $(nproc) cores)" "git loop" "floor" "ratio"
printf '%-48s %8sms %8sms %6sx\n' "new --driver bwrap, with contexts vs wt add" "$bwrap_ms" "$floor_ms" "$(ratio "$bwrap_ms" "$floor_ms")"
printf '%-48s %8sms %8sms %6sx\n' "new --driver none, with contexts vs wt add" "$none_ms" "$floor_ms" "$(ratio "$none_ms" "$floor_ms")"
printf '%-48s %8sms\n' "promote --layer notes, one commit (bwrap)" "$promote_ms"
printf '%-48s %8sms\n' "promote --layer personal, one memory file (bwrap)" "$memory_ms"
