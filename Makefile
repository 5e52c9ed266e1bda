# git loop: build, install, docs, tests.
#
#   make build                      bin/git-loop
#   make install                    into /usr/local (sudo make install)
#   make install PREFIX=~/.local    into your home, no root needed
#   make uninstall PREFIX=...       remove what install put there
#   make docs                       regenerate man/ from the command tree
#   make test | bench | lint
#
# DESTDIR is honoured for staged installs (packagers).

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

GO         ?= go
INSTALL    ?= install
STATICCHECK ?= staticcheck

# Pages and completions as committed under man/ (see make docs).
MANPAGES   := $(wildcard man/man1/*.1)
GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*') go.mod go.sum

.PHONY: all build install uninstall docs test bench lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/git-loop ./cmd/git-loop

# A file target too, so install rebuilds only when a source changed: after
# "make build", "sudo make install" copies files and runs no go as root.
bin/git-loop: $(GO_SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/git-loop ./cmd/git-loop

install: bin/git-loop
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' \
		'$(DESTDIR)$(BASHCOMPDIR)' '$(DESTDIR)$(ZSHCOMPDIR)' '$(DESTDIR)$(FISHCOMPDIR)'
	$(INSTALL) -m 0755 bin/git-loop '$(DESTDIR)$(BINDIR)/git-loop'
	ln -sf git-loop '$(DESTDIR)$(BINDIR)/git-remote-gitloop'
	$(INSTALL) -m 0644 $(MANPAGES) '$(DESTDIR)$(MANDIR)/man1/'
	$(INSTALL) -m 0644 man/completions/git-loop.bash '$(DESTDIR)$(BASHCOMPDIR)/git-loop'
	$(INSTALL) -m 0644 man/completions/_git-loop '$(DESTDIR)$(ZSHCOMPDIR)/_git-loop'
	$(INSTALL) -m 0644 man/completions/git-loop.fish '$(DESTDIR)$(FISHCOMPDIR)/git-loop.fish'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/git-loop' '$(DESTDIR)$(BINDIR)/git-remote-gitloop'
	rm -f '$(DESTDIR)$(MANDIR)/man1/'git-loop.1 '$(DESTDIR)$(MANDIR)/man1/'git-loop-*.1
	rm -f '$(DESTDIR)$(BASHCOMPDIR)/git-loop'
	rm -f '$(DESTDIR)$(ZSHCOMPDIR)/_git-loop'
	rm -f '$(DESTDIR)$(FISHCOMPDIR)/git-loop.fish'

docs:
	$(GO) run ./cmd/gen-docs -out man

test:
	./scripts/test.sh

bench:
	bench/run.sh

lint:
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './vendor/*' -not -path '*/testdata/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin
