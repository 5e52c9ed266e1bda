#!/usr/bin/env bash
# Installs git loop (binary, man pages, shell completions) from this
# checkout with nothing but Go and git, then (with --demo) starts a loop
# in a demo repository on the best sandbox this machine has.
#
#   ./install.sh                 install into ~/.local (PREFIX=/usr/local ./install.sh as root)
#   ./install.sh --demo          install, then: git loop new hello in ~/git-loop-demo
set -euo pipefail
cd "$(dirname "$0")"
prefix=${PREFIX:-$HOME/.local}
demo=false
for a in "$@"; do
  case "$a" in
    --demo) demo=true ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
command -v go >/dev/null || { echo "install.sh: Go is required (https://go.dev/doc/install)" >&2; exit 1; }
command -v git >/dev/null || { echo "install.sh: git is required" >&2; exit 1; }

echo "Building git-loop…"
mkdir -p bin
# Built like the release archives (.goreleaser.yaml): static, no cgo.
CGO_ENABLED=0 go build -trimpath -o bin/git-loop ./cmd/git-loop
install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
  "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 bin/git-loop "$prefix/bin/git-loop"
# The transport to sealed loops' sandboxes: git runs git-remote-gitloop for
# gitloop:: URLs, and the binary chooses that role by its name.
ln -sf git-loop "$prefix/bin/git-remote-gitloop"
install -m 0644 man/man1/*.1 "$prefix/share/man/man1/"
install -m 0644 man/completions/git-loop.bash "$prefix/share/bash-completion/completions/git-loop"
install -m 0644 man/completions/_git-loop "$prefix/share/zsh/site-functions/_git-loop"
install -m 0644 man/completions/git-loop.fish "$prefix/share/fish/vendor_completions.d/git-loop.fish"
echo "Installed git-loop, its man pages and completions under $prefix"
# zsh finds _git-loop only in a directory on its fpath, which Debian's
# and most others' zsh set to include /usr/local/share/zsh/site-functions
# but not ~/.local's. Ask the user's own interactive zsh.
zshdir="$prefix/share/zsh/site-functions"
if command -v zsh >/dev/null 2>&1; then
  limit=(); command -v timeout >/dev/null 2>&1 && limit=(timeout 10)
  zfpath=$("${limit[@]}" zsh -ic 'print -rl -- $fpath' </dev/null 2>/dev/null || true)
  if ! grep -qxF "$zshdir" <<<"$zfpath"; then
    echo "zsh does not look in $zshdir for completions; add this line to ~/.zshrc, before compinit runs:"
    echo "  fpath=(${zshdir/#$HOME/\~} \$fpath)"
  fi
fi
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "Add $prefix/bin to your PATH:  export PATH=\"$prefix/bin:\$PATH\""; export PATH="$prefix/bin:$PATH" ;;
esac
git loop version

$demo || exit 0
repo="$HOME/git-loop-demo"
if [ ! -d "$repo/.git" ]; then
  git init -q -b main "$repo"
  printf '# demo\n\nA repository to try git loop in.\n' > "$repo/README.md"
  git -C "$repo" add README.md
  git -C "$repo" -c user.name="git loop demo" -c user.email=demo@localhost commit -qm "demo: initial commit"
fi
cd "$repo"
# The best sandbox here: a Docker engine (building the sandbox image once),
# else bubblewrap, else the host.
driver=auto
if docker info >/dev/null 2>&1; then
  if ! docker image inspect "$(git loop config get sandbox.image)" >/dev/null 2>&1; then
    echo "Building the sandbox image (once)…"
    git loop image build || { echo "Image build failed; using bubblewrap or the host instead."; driver=bwrap; command -v bwrap >/dev/null || driver=none; }
  fi
fi
# Context layers (solo: local origins) and the git hooks; idempotent.
git loop init -q
git loop doctor || true
if git loop status hello >/dev/null 2>&1; then
  exec git loop shell hello
fi
exec git loop new hello --driver "$driver"
