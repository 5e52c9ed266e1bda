#!/usr/bin/env bash
# Measures what git loop's hooks add to plain git, in one run on this
# machine (medians; the target is <= 20 ms on a commit):
#   commit   : git commit in the personal repo (pre-commit vault guard) vs the same without hooks
#   commit   : git commit in the code repo (no commit hook is installed there)
#   checkout : git checkout of another branch (post-checkout returns in sh)
#   push     : git push of a branch (pre-push guard) vs without hooks
#   adopt    : git worktree add -b loop/N (adoption) vs git worktree add -b plain-N
# Usage: bench/hooks.sh [REPS]   (default 15; needs git and go)
set -euo pipefail
reps=${1:-15}
. "$(dirname "$0")/lib.sh"   # $here, $work (removed on exit), git-loop built onto PATH, hermetic HOME and git identity, timing helpers

# Two identical setups: one with hooks, one initialised with --no-hooks.
for side in hooks plain; do
  repo="$work/$side/repo"
  git init -q -b main "$repo"
  for i in $(seq 1 50); do echo "$i" > "$repo/f$i.txt"; done
  git -C "$repo" add -A && git -C "$repo" commit -qm init
  git -C "$repo" branch other
  git init -q --bare "$work/$side/origin.git"
  git -C "$repo" remote add origin "$work/$side/origin.git"
  git -C "$repo" push -q origin main
  flag=""; [ "$side" = plain ] && flag="--no-hooks"
  (export XDG_DATA_HOME="$work/$side/data"; git -C "$repo" loop config set sandbox.driver none -q; git -C "$repo" loop init -q $flag)
done

time_it() { # file command…
  local f=$1; shift
  local t0 t1; t0=$(now); "$@" > /dev/null 2>&1; t1=$(now); echo $((t1 - t0)) >> "$f"
}
for side in hooks plain; do : > "$work/$side.commitp"; : > "$work/$side.commitc"; : > "$work/$side.checkout"; : > "$work/$side.push"; : > "$work/$side.wt"; done
for i in $(seq 1 "$reps"); do
  for side in hooks plain; do
    export XDG_DATA_HOME="$work/$side/data"
    repo="$work/$side/repo"; personal="$XDG_DATA_HOME/git-loop/personal"
    echo "$i" > "$personal/n.md"; git -C "$personal" add n.md
    time_it "$work/$side.commitp" git -C "$personal" commit -qm "n $i"
    echo "$i" > "$repo/c.txt"; git -C "$repo" add c.txt
    time_it "$work/$side.commitc" git -C "$repo" commit -qm "c $i"
    time_it "$work/$side.checkout" git -C "$repo" checkout -q other
    git -C "$repo" checkout -q main
    time_it "$work/$side.push" git -C "$repo" push -q origin "main:refs/heads/b$i"
    if [ "$side" = hooks ]; then b="loop/w$i"; else b="plain-w$i"; fi
    time_it "$work/$side.wt" git -C "$repo" worktree add -q -b "$b" "$work/$side/wt$i"
  done
done
printf '%-52s %9s %9s %9s\n' "benchmark (median of $reps, $(nproc) cores)" "hooks" "no hooks" "overhead"
row() { local h p; h=$(median_ms < "$work/hooks.$2"); p=$(median_ms < "$work/plain.$2"); printf '%-52s %7sms %7sms %7sms\n' "$1" "$h" "$p" "$(diff_ms "$h" "$p")"; }
row "git commit, personal repo (pre-commit vault guard)" commitp
row "git commit, code repo (no commit hook)" commitc
row "git checkout other (post-checkout, sh only)" checkout
row "git push, code repo (pre-push guard)" push
row "git worktree add -b (adoption vs plain branch)" wt
