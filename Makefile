# bottle — build, test, bench. `make test` is what CI runs (.ci/run).
GO      ?= go
BIN     ?= bin
FUZZTIME ?= 30s
# The race detector needs cgo and a C compiler (gcc); RACE= runs without it.
RACE    ?= -race
# The version go build would stamp from a git clone (v1.2.0, or
# v0.0.0-<date>-<revision>, +dirty): scripts/version.sh.
VERSION ?= $(shell scripts/version.sh 2>/dev/null || echo devel)
LDFLAGS := -s -w -X github.com/claude-bottle/bottle/internal/cli.Version=$(VERSION)
TOOLS   := bottle-ls bottle-plan-cleanup bottle-reap bottle-cleanup bottle-launch
# make install: PREFIX/bin, PREFIX/share/man/man1, the bash and zsh
# completion directories under PREFIX/share; DESTDIR for packagers.
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all build run test unit darwin bench fuzz clean man install uninstall

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# The man pages (docs/man) and completion scripts (docs/completion), from
# the tools' own flags; internal/manual's test fails when they are stale.
man:
	$(GO) run ./internal/manual/generate .

# What ripgrep's and gh's packages install: the binaries, a man page per
# tool, bash completion (one file per command, as bash-completion loads it)
# and zsh completion (one _bottle for all five).
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	for t in $(TOOLS); do \
		install -m 0755 $(BIN)/$$t $(DESTDIR)$(PREFIX)/bin/$$t && \
		install -m 0644 docs/man/$$t.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 && \
		install -m 0644 docs/completion/bottle.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t || exit 1; \
	done
	install -m 0644 docs/completion/_bottle $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_bottle

uninstall:
	for t in $(TOOLS); do \
		rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 \
			$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	done
	rm -f $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_bottle

# The main job on this machine's engine, safely: what a cleanup would remove,
# checked against the engine and the disk, with nothing removed.
run: build
	$(BIN)/bottle-cleanup --dry-run

# Unit, testscript and real-engine tests, all under the race detector.
# scripts/engine.sh starts dockerd when none answers; under CI=true a missing
# engine fails the run. scripts/test-deps.sh installs with apt-get what the
# tests' own engines and transports need (openssh-server, podman) when
# missing (and zsh, for the completion test). scripts/compose.sh builds docker
# compose v5 (the release the labels claim) from the Go module proxy once,
# into a cache outside the repository; the scripts get it as a CLI plugin in
# a DOCKER_CONFIG of their own (BOTTLE_TEST_COMPOSE names it). The engine
# tests take a machine-wide lock: scripts/engine-lock.sh says first who holds
# it, if anyone.
test:
	@scripts/test-deps.sh || { [ "$$CI" = true ] && exit 1; echo "make test: test-deps.sh failed; the ssh, podman and zsh-completion tests will skip" >&2; }
	@scripts/engine.sh || { [ "$$CI" = true ] && exit 1; echo "make test: no Docker engine; engine tests will skip" >&2; }
	@scripts/engine-lock.sh run scripts/test-images.sh || [ "$$CI" != true ]
	@scripts/compose.sh >/dev/null || { [ "$$CI" != true ] || exit 1; echo "make test: docker compose could not be built; launch_compose will skip" >&2; }
	@scripts/engine-lock.sh note
	$(GO) vet ./...
	@$(MAKE) --no-print-directory darwin
	BOTTLE_TEST_COMPOSE=$${BOTTLE_TEST_COMPOSE:-$$(scripts/compose.sh path)} $(GO) test -count=1 $(RACE) -timeout 40m ./...

# Unit tests only: -short skips every engine test and script. DOCKER_HOST
# points nowhere and CI=true makes a test that still asks the engine fail
# instead of skipping, so this target proves it needs no engine.
unit:
	CI=true DOCKER_HOST=unix:///nonexistent/bottle-make-unit.sock $(GO) test -count=1 -short ./...

# A Mac is home for the smolmachines backend: vet for darwin/arm64 and compile
# every package's tests for it (linked, not run), so `make unit` builds there.
darwin:
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
		echo "GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o $$d/ ./..." && \
		GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o "$$d/" ./... >/dev/null

bench: build
	@scripts/engine.sh
	scripts/bench.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzReader -fuzztime $(FUZZTIME) ./internal/jsonl/

clean:
	rm -rf $(BIN)
