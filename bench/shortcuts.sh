#!/usr/bin/env bash
# Measures each of git loop's git shortcuts (gitloop/git/shortcuts.go)
# against git's public command it stands for, on what the user waits for:
# the same command with and without the shortcut (GIT_LOOP_PLAIN_GIT=NAME),
# alternating, medians in milliseconds and their ratio. A shortcut that
# saves less than 10 % of the wait should go.
#   discover : path, status, ls (5 loops), new     (config off on both sides: it starts from discovery)
#   config   : path, status, ls (5 loops), new     (worktree off on both sides: it judges from the config)
#   worktree : new
#   status   : status, ls (5 loops), ls (200 loops)
# Usage: bench/shortcuts.sh [REPS]   (default 21; needs git and go)
set -euo pipefail
reps=${1:-21}
. "$(dirname "$0")/lib.sh"   # $here, $work, git-loop built onto PATH, hermetic HOME and git identity, timing helpers

mkrepo() {
  git init -q -b main "$1"
  for i in $(seq 1 50); do mkdir -p "$1/d$((i % 5))"; echo "$i" > "$1/d$((i % 5))/f$i.txt"; done
  git -C "$1" add -A && git -C "$1" commit -qm init
}
small="$work/small"; mkrepo "$small"
for i in 1 2 3 4 5; do git -C "$small" loop new "l$i" --driver none --detach -q > /dev/null; done
echo wip > "$small/.git/loop/loops/l1/workdir/wip.txt"
big="$work/big"; mkrepo "$big"
for i in $(seq 1 200); do git -C "$big" loop new "l$i" --driver none --detach -q > /dev/null; done
news="$work/news"; mkrepo "$news"
sleep 1.1   # past the status cache's racy window
git -C "$small" loop ls > /dev/null; git -C "$big" loop ls > /dev/null

n=0
# compare LABEL DIR ON OFF CMD...: CMD with GIT_LOOP_PLAIN_GIT=ON vs =OFF
compare() {
  local label=$1 dir=$2 on=$3 off=$4; shift 4
  : > "$work/a.t"; : > "$work/b.t"
  for _ in $(seq 1 "$reps"); do
    for side in a b; do
      local mode=$on; [ $side = b ] && mode=$off
      n=$((n + 1))
      local args=("$@"); [ "${args[*]}" = new ] && args=(loop new "n$n" --driver none --detach -q)
      t0=$(now); (cd "$dir" && GIT_LOOP_PLAIN_GIT=$mode git "${args[@]}" > /dev/null); t1=$(now)
      echo $((t1 - t0)) >> "$work/$side.t"
    done
  done
  local a b; a=$(median_ms < "$work/a.t"); b=$(median_ms < "$work/b.t")
  printf '%-34s %8sms %8sms %6sx\n' "$label" "$a" "$b" "$(ratio "$a" "$b")"
}

printf '%-34s %10s %10s %7s\n' "shortcut: command (median of $reps)" "shortcut" "plain" "ratio"
compare "discover: path"           "$small" config discover,config loop path l1
compare "discover: status"         "$small" config discover,config loop status l1
compare "discover: ls, 5 loops"    "$small" config discover,config loop ls
compare "discover: new"            "$news" config,worktree discover,config,worktree new
compare "config: path"             "$small" "" config loop path l1
compare "config: status"           "$small" "" config loop status l1
compare "config: ls, 5 loops"      "$small" "" config loop ls
compare "config: new"              "$news" worktree worktree,config new
compare "worktree: new"            "$news" "" worktree new
compare "status: status"           "$small" "" status loop status l1
compare "status: ls, 5 loops"      "$small" "" status loop ls
compare "status: ls, 200 loops"    "$big" "" status loop ls
compare "all: new"                 "$news" "" 1 new
compare "all: ls, 200 loops"       "$big" "" 1 loop ls
