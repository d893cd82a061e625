# MCIAS build entry points. `make test` is what CI runs (via .ci/run).

CARGO ?= cargo
BUF   := tools/node_modules/.bin/buf

.PHONY: all build test lint fmt run tools clean

all: build

build:
	$(CARGO) build --release --bins

## Runs every test suite: unit, integration (real server over TLS), CLI.
test:
	$(CARGO) test --all-targets

## Formatting, clippy (warnings are errors) and buf lint.
lint: $(BUF)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	cd proto && ../$(BUF) lint

fmt:
	$(CARGO) fmt --all

## The zero-setup development server (./mcias-dev, 127.0.0.1:8443).
run:
	$(CARGO) run --bin mciassrv -- dev

## Pinned command-line tools (buf from npm) installed into tools/.
tools: $(BUF)

$(BUF): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund
	touch $(BUF)

clean:
	$(CARGO) clean
	rm -rf tools/node_modules
