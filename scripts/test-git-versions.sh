#!/usr/bin/env bash
# Runs the git-facing tests (scripts/git-facing-packages) against two gits,
# each with git loop's git shortcuts on and off (GIT_LOOP_PLAIN_GIT=1, see
# gitloop/git/shortcuts.go):
#
#   - the host's git (scripts/test.sh has already run them with the
#     shortcuts on, so here only off; --all runs both);
#   - Debian trixie's git, in a container of a test image debootstrapped
#     from the machine's Debian mirror (cached: the root filesystem in
#     /var/cache/gitloop-test, the image by a tag naming its recipe), with
#     the source tree and the test binaries bind-mounted.
#
# Needs Go, a Docker engine, and (for the first build of the image)
# debootstrap and root. Without them it says so and exits 0, or fails under
# GIT_LOOP_TEST_REQUIRE (all, or a list naming docker or debootstrap).
#
#   scripts/test-git-versions.sh [--all] [SUITE]    SUITE defaults to trixie
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The tree's git dir too (a linked worktree's is outside it): git run in
# the tree by a test must find the same repository as on the host.
common=$(cd "$(git rev-parse --git-common-dir)" && pwd)

host_modes=(1)
if [ "${1:-}" = --all ]; then host_modes=("" 1); shift; fi
suite=${1:-trixie}

required() {
  local w
  for w in ${GIT_LOOP_TEST_REQUIRE//,/ }; do [ "$w" = all ] || [ "$w" = "$1" ] && return 0; done
  return 1
}

mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' scripts/git-facing-packages | grep .)
bins=$(mktemp -d)
trap 'rm -rf "$bins"' EXIT
declare -A dir_of
for p in "${pkgs[@]}"; do
  name=$(echo "${p#./}" | tr / _)
  # Static, so the binary runs on the other release's libc too.
  CGO_ENABLED=0 go test -c -o "$bins/$name.test" "$p"
  dir_of[$name]=$(go list -f '{{.Dir}}' "$p")
done

failed=()
run_host() { # mode
  local name
  for name in "${!dir_of[@]}"; do
    echo "test-git-versions: host $(git --version | cut -d' ' -f3), GIT_LOOP_PLAIN_GIT=${1:-(unset)}: $name" >&2
    (cd "${dir_of[$name]}" && GIT_LOOP_PLAIN_GIT=$1 "$bins/$name.test" -test.count=1 -test.timeout=10m) || failed+=("host plain=${1:-unset} $name")
  done
}

run_container() { # image mode
  local name
  for name in "${!dir_of[@]}"; do
    echo "test-git-versions: $suite, GIT_LOOP_PLAIN_GIT=${2:-(unset)}: $name" >&2
    docker run --rm --network none \
      -e GIT_LOOP_PLAIN_GIT="$2" -e GIT_LOOP_TEST_REQUIRE="${GIT_LOOP_TEST_REQUIRE:-}" \
      -v "$root:$root:ro" -v "$common:$common:ro" -v "$bins:$bins:ro" -w "${dir_of[$name]}" \
      "$1" "$bins/$name.test" -test.count=1 -test.timeout=10m || failed+=("$suite plain=${2:-unset} $name")
  done
}

start=$(date +%s)
for mode in "${host_modes[@]}"; do run_host "$mode"; done

status=0
image=$(go run ./sandbox/docker/dockertest/debianimage "$suite") || status=$?
if [ $status -eq 3 ]; then
  if required docker || required debootstrap; then
    echo "test-git-versions: no $suite test image (see above) [GIT_LOOP_TEST_REQUIRE=$GIT_LOOP_TEST_REQUIRE]" >&2
    exit 1
  fi
  echo "test-git-versions: skipping $suite's git: no test image (see above); set GIT_LOOP_TEST_REQUIRE=all to make this a failure" >&2
elif [ $status -ne 0 ]; then
  exit $status
else
  echo "test-git-versions: $suite image $image: $(docker run --rm "$image" git --version)" >&2
  for mode in "" 1; do run_container "$image" "$mode"; done
fi

echo "test-git-versions: done in $(( $(date +%s) - start ))s" >&2
if [ ${#failed[@]} -gt 0 ]; then
  printf 'test-git-versions: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
