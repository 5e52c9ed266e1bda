#!/usr/bin/env bash
# Runs git loop's whole test suite against the real parts: git, git-crypt,
# a Docker engine, bubblewrap with passt and slirp4netns (its isolated
# network), busybox (for local test images),
# debootstrap (for a Debian test image), chromium (for the web viewer's
# browser test), zsh (for the zsh completion test) and a C compiler (the
# race detector needs cgo).
#
# As root it installs what is missing with apt-get and starts dockerd when
# no engine answers; otherwise it says exactly what is missing and how to
# install it. It installs the real agent clients with
# scripts/install-agents.sh. With GIT_LOOP_TEST_REQUIRE=all (set by CI) a test whose
# dependency is missing fails instead of skipping.
#
#   scripts/test.sh              everything (and scripts/test-git-versions.sh)
#   scripts/test.sh ./gitloop/...  go test arguments (packages, -run …)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(git git-crypt openssh-server docker.io bubblewrap passt slirp4netns busybox-static debootstrap chromium zsh gcc libc6-dev)
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do have_pkg "$p" || missing+=("$p"); done
else
  for c in git git-crypt sshd docker bwrap pasta slirp4netns busybox debootstrap chromium zsh gcc; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing: ${missing[*]}" >&2
    echo "test.sh: install them with: sudo apt-get install ${missing[*]}" >&2
    echo "test.sh: tests that need them will skip (or fail with GIT_LOOP_TEST_REQUIRE=all)" >&2
  fi
fi

# pasta and slirp4netns open /dev/net/tun as the user git loop runs as;
# distributions ship it mode 0666, some containers make it root's only
# (the unprivileged bwrap network test needs it).
if [ -c /dev/net/tun ] && [ "$(id -u)" = 0 ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  echo "test.sh: /dev/net/tun is mode $(stat -c %a /dev/net/tun); making it 0666 as distributions ship it" >&2
  chmod 0666 /dev/net/tun
fi

# A Docker engine: start one when none answers and we may.
if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1 && [ -z "${DOCKER_HOST:-}" ]; then
    echo "test.sh: starting dockerd" >&2
    # setsid: the engine outlives whoever started it (a killed test run
    # takes its whole process group down, and the engine with it).
    (setsid dockerd >/tmp/gitloop-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "test.sh: dockerd did not start; see /tmp/gitloop-dockerd.log" >&2; tail -20 /tmp/gitloop-dockerd.log >&2; }
  else
    echo "test.sh: no Docker engine answers: start one (sudo systemctl start docker) or set DOCKER_HOST" >&2
  fi
fi

# The real agent clients (Claude Code, Codex) and mise, pinned, from npm:
# tests check what they load and print offline (internal/testagents).
if [ "$(id -u)" = 0 ] || command -v npm >/dev/null 2>&1; then
  scripts/install-agents.sh || echo "test.sh: could not install the agent clients; tests that need them will skip (or fail with GIT_LOOP_TEST_REQUIRE=all)" >&2
fi

echo "test.sh: gofmt, go vet" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go vet ./...

whole=0
if [ $# -eq 0 ]; then set -- ./...; whole=1; fi
# -race: loops, locks, servers and kills run concurrently; a data race is a
# bug even when the tests pass. On 2 busy cores it takes the whole suite
# from 78 s to 135 s (11 minutes with a cold build cache under heavy load).
echo "test.sh: go test -race $*" >&2
# The timeout is per package: e2e/sandbox, the longest, took 10 minutes
# alone and over 15 beside other suites at a load of 30 on 2 cores.
CGO_ENABLED=1 go test -race -count=1 -timeout 25m "$@"

# The whole suite also runs the git-facing tests with git loop's git
# shortcuts off, and against a second git (Debian trixie's, in a container).
if [ $whole = 1 ]; then
  echo "test.sh: scripts/test-git-versions.sh" >&2
  scripts/test-git-versions.sh
fi
