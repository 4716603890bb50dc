# jab — make targets. `make test` is the one test command (CI runs it).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/jab-xmpp/jab/commands.Version=$(VERSION)
# A static binary without urfave/cli's Markdown and roff generators (jab
# renders its own man page): a one-shot send then maps about 2 MiB less
# (no libc, no blackfriday). CGO_ENABLED=0 uses Go's own DNS resolver,
# which is all the SRV lookups need.
BUILDFLAGS := -trimpath -tags urfave_cli_no_docs

.PHONY: all build test test-short deps bench fuzz fuzz-long faults vet clean devserver mutants demo

all: build

# bin/jab-ox is jab with OpenPGP for XMPP (cmd/jab-ox): plain jab runs it
# for jab keys, send --encrypt and an account's listen once it has a key,
# and leaves the crypto out of every other run (docs/ARCHITECTURE.md).
build:
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o bin/jab .
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -ldflags '$(LDFLAGS)' -o bin/jab-ox ./cmd/jab-ox

# Installs jab and its companion jab-ox, the bash, zsh and fish
# completions and the man page under $(PREFIX); packagers stage them with
# DESTDIR=/some/root.
PREFIX  ?= /usr/local
DESTDIR ?=
.PHONY: install docs
install: build
	install -d '$(DESTDIR)$(PREFIX)/bin' '$(DESTDIR)$(PREFIX)/share/man/man1' \
		'$(DESTDIR)$(PREFIX)/share/bash-completion/completions' \
		'$(DESTDIR)$(PREFIX)/share/zsh/site-functions' \
		'$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d'
	install -m 0755 bin/jab '$(DESTDIR)$(PREFIX)/bin/jab'
	install -m 0755 bin/jab-ox '$(DESTDIR)$(PREFIX)/bin/jab-ox'
	install -m 0644 completions/jab.bash '$(DESTDIR)$(PREFIX)/share/bash-completion/completions/jab'
	install -m 0644 completions/_jab '$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_jab'
	install -m 0644 completions/jab.fish '$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/jab.fish'
	install -m 0644 man/jab.1 '$(DESTDIR)$(PREFIX)/share/man/man1/jab.1'

# Regenerates completions/ and man/jab.1 from the app (what
# `jab completion SHELL` and `jab man` print); a test fails when they drift.
docs:
	$(GO) test -short -count=1 -run '^TestDocsGolden$$' ./commands -update-docs

# Installs Prosody, lua-sec and ejabberd when missing (apt-get, as root),
# then runs every test, integration against a real Prosody 0.12 included,
# with -race; then the integration tests of ./commands again against
# Prosody 13 and against ejabberd 23.01 (in a network namespace of its
# own), the server matrix (internal/testserver; tests that depend on one
# server's behaviour skip on the others and say why).
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	JAB_TEST_SERVER=prosody13 $(GO) test -race -count=1 -timeout 20m ./commands
	JAB_TEST_SERVER=ejabberd $(GO) test -race -count=1 -timeout 20m ./commands

# The quick loop: unit tests only, no Prosody.
test-short:
	$(GO) test -short -count=1 ./...

deps:
	./.ci/deps

# One-shot `jab send` against go-sendxmpp on the same local Prosody:
# medians of wall time, CPU and peak memory; then login (Dial) and a whole
# one-shot send against Prosody 13 with a password and with a FAST token.
# A benchmark, not a test. The table of jab against go-sendxmpp comes from
# jab-bench; shrink it with e.g. make bench BENCH_FLAGS='-n 5 -bot 0'.
# JAB_BENCH_NAGLE=1: the login benchmarks too run against a stock server,
# Nagle's algorithm on.
BENCH_FLAGS ?= -n 20 -lines 1000 -bot 10000
bench: build
	./.ci/deps bench
	$(GO) run ./internal/cmd/jab-bench -jab bin/jab $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench 'HistoryScan100k' -benchtime 3x ./statefile
	$(GO) test -short -run '^$$' -bench 'Threads' -benchtime 3x ./commands
	JAB_BENCH_NAGLE=1 $(GO) test -run '^$$' -bench 'DialFAST' -benchtime 20x ./session
	$(GO) test -run '^$$' -bench 'SenderLines' -benchtime 5000x ./session
	JAB_BENCH_NAGLE=1 $(GO) test -run '^$$' -bench 'OneShotSend' -benchtime 10x ./commands

# A short run of every fuzz target.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzSCRAM -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzSASL2Step -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzParseJID -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzAppendMessage -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzAppendRequest -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzUnwrapCarbon -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzAcceptResult -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzUploadAnswer -fuzztime 30s ./session
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 30s ./session/ox
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./statefile
	$(GO) test -run '^$$' -fuzz FuzzHistoryScan -fuzztime 30s ./statefile
	$(GO) test -run '^$$' -fuzz FuzzDecodeRecord -fuzztime 30s ./statefile

# Every fuzz target for FUZZTIME each (10 minutes by default):
# make fuzz-long FUZZTIME=1m. The execution counts are in the output.
FUZZTIME ?= 10m
fuzz-long:
	@for t in $$($(GO) test -list '^Fuzz' ./session ./session/ox ./statefile | grep '^Fuzz'); do \
		pkg=./session; $(GO) test -list "^$$t$$" ./statefile | grep -q "^$$t$$" && pkg=./statefile; \
		$(GO) test -list "^$$t$$" ./session/ox | grep -q "^$$t$$" && pkg=./session/ox; \
		echo "== $$t ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Crash figures: the real state-file and history code in a child process,
# killed with SIGKILL at random points; then 50 concurrent `jab send` and a
# listen on one state directory, against a local Prosody
# (internal/cmd/jab-faults).
FAULT_KILLS ?= 1000
faults: build
	$(GO) run ./internal/cmd/jab-faults -kills $(FAULT_KILLS) -jab bin/jab -writers 50

vet:
	$(GO) vet ./...

clean:
	rm -rf bin

# A throwaway local Prosody with accounts me@example.test and
# alice@example.test, for the README's quick start. Runs until Ctrl-C.
devserver: deps
	$(GO) run ./internal/cmd/jab-devserver -env jab-dev.env

# The main job in one command, with the real binary against a throwaway
# local Prosody: listen, send to the bare JID, the lock to the resource that
# answered, the unlock on a presence change, threads list. Each step prints
# the command and what the contact received, and is checked (CI runs it).
demo: deps
	$(GO) run ./internal/cmd/jab-demo

# Breaks each lock/thread rule in turn and shows its integration test
# fails (about ten minutes; not part of `make test`).
mutants: deps
	$(GO) run ./internal/cmd/jab-mutants
