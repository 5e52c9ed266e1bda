#!/usr/bin/env bash
# Installs the real agent clients the tests check offline, at pinned
# versions, into one directory (default /opt/git-loop-test/agents, or
# $GIT_LOOP_TEST_AGENTS): Claude Code, Codex and mise, from npm. It is
# idempotent: a version already installed is kept. Tests find the clients
# through internal/testagents, which reads the same directory.
#
#   scripts/install-agents.sh        install what is missing
#   scripts/install-agents.sh --dir  print the directory
set -euo pipefail

dir=${GIT_LOOP_TEST_AGENTS:-/opt/git-loop-test/agents}
if [ "${1:-}" = --dir ]; then echo "$dir"; exit 0; fi

# The pins: change them here and in internal/testagents together.
pins=(
  "@anthropic-ai/claude-code@2.1.328"
  "@openai/codex@0.169.0"
  "@jdxcode/mise@2026.9.15"
)

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-agents: installing nodejs and npm" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "install-agents: npm is missing: sudo apt-get install nodejs npm" >&2
    exit 1
  fi
fi

mkdir -p "$dir"
need=()
for p in "${pins[@]}"; do
  name=${p%@*} version=${p##*@}
  have=$(node -p "try{require('$dir/node_modules/$name/package.json').version}catch(e){''}" 2>/dev/null || true)
  [ "$have" = "$version" ] || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "install-agents: npm install ${need[*]} into $dir" >&2
[ -f "$dir/package.json" ] || echo '{"private":true}' > "$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "${need[@]}" >&2
