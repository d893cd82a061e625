# MCIAS build entry points. `make test` is what CI runs (via .ci/run).
#
# Areas of the project add their own rules in mk/*.mk and hook them into the
# aggregate targets below by appending to TOOLS_TARGETS, GEN_TARGETS,
# LINT_TARGETS and TEST_TARGETS.

CARGO ?= cargo
BUF   := tools/node_modules/.bin/buf

TOOLS_TARGETS := tools-buf
GEN_TARGETS   :=
LINT_TARGETS  := lint-rust lint-proto
TEST_TARGETS  := test-rust

.PHONY: all build test lint fmt run tools clean \
        tools-buf lint-rust lint-proto test-rust build-tests

all: build

-include mk/*.mk

build:
	$(CARGO) build --release --workspace --bins

## Runs every test suite: unit, integration (real server over TLS), CLI, clients.
test: $(TEST_TARGETS)

## Compiles every test, bench and binary of the workspace once; the suites
## below run these builds (target/debug/mciassrv among them).
build-tests:
	$(CARGO) test --workspace --all-targets --no-run

# The whole workspace in one run, with a `mciassrv dev` for the Rust client's
# contract suite (the server's own tests start their own servers).
test-rust: build-tests
	$(WITH_SERVER) $(CARGO) test --workspace --all-targets

## Formatting, clippy (warnings are errors), buf lint, and each area's linters.
lint: $(LINT_TARGETS)

lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

lint-proto: $(BUF)
	cd proto && ../$(BUF) lint

fmt:
	$(CARGO) fmt --all

## The zero-setup development server (./mcias-dev, 127.0.0.1:8443).
run:
	$(CARGO) run --bin mciassrv -- dev

## Pinned command-line tools, installed through the project's own files.
tools: $(TOOLS_TARGETS)

tools-buf: $(BUF)

# `npm ci`: exactly the committed lock, which lists buf's binaries for every
# platform (npm fetches only this one's), so installing never rewrites it.
$(BUF): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund
	touch $(BUF)

clean:
	$(CARGO) clean
	rm -rf tools/node_modules
