# Sourced by the bench scripts: sets $here (the repository root) and $work
# (a temp dir, removed on exit unless the script sets its own EXIT trap),
# builds git-loop as the release archives do, onto PATH, then makes the
# environment hermetic (HOME, XDG dirs, git identity) so no user setting
# skews a run; and defines the timing helpers.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built with the caller's Go caches, before HOME moves.
mkdir -p "$work/bin"
(cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$work/bin/git-loop" ./cmd/git-loop)
ln -sf git-loop "$work/bin/git-remote-gitloop" # the transport to sealed loops, as make install links it
export PATH="$work/bin:$PATH"
export HOME="$work/home" XDG_CONFIG_HOME="$work/xdg" XDG_DATA_HOME="$work/xdg-data" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"

now() { date +%s%N; }
# median of the numbers on stdin (nanoseconds) in milliseconds
median_ms() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f", a-b}'; }

# time_new_docker REPO IMG USER WS REPS: git loop new --driver docker
# against its floor (git worktree add -b + docker create + docker start),
# alternating so both see the same machine state; the containers go
# between rounds (untimed) so the engine's load stays flat. Appends the
# times to $work/new.t and $work/floor.t.
time_new_docker() {
	local repo=$1 img=$2 user=$3 ws=$4 reps=$5 i wt c t0 t1
	: > "$work/new.t"; : > "$work/floor.t"
	for i in $(seq 1 "$reps"); do
		wt="$work/floor-$i"
		t0=$(now)
		git -C "$repo" worktree add -q -b "floor/$i" "$wt" main
		c=$(docker create --init --label dev.gitloop.bench=$$ ${BENCH_FLOOR_NETWORK:+--network "$BENCH_FLOOR_NETWORK"} --user "$user" -v "$wt:$wt" -w "$wt" "$img" sleep infinity)
		docker start "$c" >/dev/null
		t1=$(now)
		echo $((t1 - t0)) >> "$work/floor.t"
		t0=$(now); git -C "$repo" loop new "n$i" --driver docker --detach -q >/dev/null; t1=$(now)
		echo $((t1 - t0)) >> "$work/new.t"
		docker rm -f "$c" "gitloop-$ws-n$i" >/dev/null
	done
}

# time_fetch REPO LOOP REPS INSIDE EXT OUT: bringing back one new commit of
# loop LOOP through gitloop:: (the transport alone: git fetch with fsck,
# the helper, upload-pack inside) against its floor, git fetch over the
# ext:: URL EXT through the same exec, alternating the two; each timed
# fetch has one new commit to bring, made inside (untimed) by the command
# prefix INSIDE run in the loop's clone. Writes the times to $work/OUT.t
# and the floor's to $work/OUTx.t.
time_fetch() {
	local repo=$1 loop=$2 reps=$3 inside=$4 ext=$5 out=$6 i t0 t1
	fetch_loop() { git -C "$repo" -c protocol.allow=never -c "protocol.$1.allow=always" -c transfer.fsckObjects=true \
		fetch -q --no-tags --no-write-fetch-head "$2" "+refs/heads/loop/$loop:$3"; }
	: > "$work/$out.t"; : > "$work/${out}x.t"
	for i in $(seq 1 "$reps"); do
		$inside git -c user.name=b -c user.email=b@example.com commit -q --allow-empty -m "a$i"
		t0=$(now); fetch_loop gitloop "gitloop::$loop" "refs/gitloop/$loop/head"; t1=$(now); echo $((t1 - t0)) >> "$work/$out.t"
		$inside git -c user.name=b -c user.email=b@example.com commit -q --allow-empty -m "b$i"
		t0=$(now); fetch_loop ext "$ext" "refs/bench/$loop"; t1=$(now); echo $((t1 - t0)) >> "$work/${out}x.t"
	done
}
