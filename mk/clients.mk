# Generated code (gen/) and the client libraries (clients/).
#
#   make tools-clients  pinned code generators and each client's toolchain
#   make gen            regenerate gen/ from proto/ (output is committed)
#   make lint-clients   buf breaking, stale gen/ check, each client's linters
#   make test-clients   every client's suite against a real `mciassrv dev`

TOOLS_TARGETS += tools-clients
GEN_TARGETS   += gen-clients
LINT_TARGETS  += lint-clients
TEST_TARGETS  += test-clients

PROTOC_GEN_GO_VERSION      := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.1
CLIENTS_APT_PACKAGES       := sbcl cl-drakma cl-yason cl-fiveam

TOOLS_BIN    := tools/bin
VENV         := tools/venv
PY           := $(VENV)/bin/python
TS_CLIENT    := clients/typescript
WITH_SERVER  := clients/testdata/with-server.sh
MCIASSRV     := target/debug/mciassrv
# What `buf breaking` compares with: the previous commit of main.
BREAKING_AGAINST ?= HEAD~1

.PHONY: gen gen-clients tools-clients tools-go-plugins tools-python tools-ts tools-lisp \
        lint-clients lint-gen lint-breaking lint-go lint-python lint-ts \
        test-clients test-go test-python test-ts test-lisp mciassrv-debug

# `gen: $(GEN_TARGETS)` is declared in mk/rest.mk, read after this file.

## --- tools -----------------------------------------------------------------

tools-clients: tools-buf tools-go-plugins tools-python tools-ts tools-lisp

tools-go-plugins: $(TOOLS_BIN)/.stamp-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VERSION)

$(TOOLS_BIN)/.stamp-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VERSION):
	GOBIN=$(abspath $(TOOLS_BIN)) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(abspath $(TOOLS_BIN)) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	rm -f $(TOOLS_BIN)/.stamp-*
	touch $@

tools-python: $(VENV)/.stamp

$(VENV)/.stamp: clients/python/requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r clients/python/requirements-dev.txt
	touch $@

tools-ts: $(TS_CLIENT)/node_modules/.package-lock.json

$(TS_CLIENT)/node_modules/.package-lock.json: $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	npm ci --prefix $(TS_CLIENT) --no-audit --no-fund
	touch $@

# SBCL and the Common Lisp libraries come from Debian (no Quicklisp).
tools-lisp:
	tools/scripts/apt-install.sh $(CLIENTS_APT_PACKAGES)

## --- generation --------------------------------------------------------------

# Reproducible: the same pinned plugins always write the same bytes.
gen-clients: tools-buf tools-go-plugins tools-python
	rm -rf gen/go/mcias gen/python/mcias gen/ts
	cd proto && ../$(BUF) generate --template buf.gen.yaml
	cd proto && ../$(BUF) generate --template buf.gen.ts.yaml

## --- lint --------------------------------------------------------------------

lint-clients: lint-gen lint-breaking lint-go lint-python lint-ts

# gen/ must be exactly what `make gen` writes.
lint-gen: gen-clients
	@git diff --exit-code -- gen/ || { echo "gen/ is stale: run 'make gen' and commit" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- gen/); \
	  if [ -n "$$untracked" ]; then echo "gen/ has uncommitted files: $$untracked" >&2; exit 1; fi

# The previous main commit's protos, unpacked with git archive (works in
# clones and worktrees alike).
lint-breaking: tools-buf
	@if git rev-parse --verify --quiet '$(BREAKING_AGAINST)^{commit}' >/dev/null && \
	    git cat-file -e '$(BREAKING_AGAINST):proto/buf.yaml' 2>/dev/null; then \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  git archive '$(BREAKING_AGAINST)' proto | tar -x -C "$$tmp" && \
	  cd proto && ../$(BUF) breaking --against "$$tmp/proto" && \
	  echo "buf breaking: no breaking change against $(BREAKING_AGAINST)"; \
	else \
	  echo "buf breaking: $(BREAKING_AGAINST) has no proto module; nothing to compare"; \
	fi

lint-go:
	cd clients/go && test -z "$$(gofmt -l .)" || { gofmt -l . >&2; exit 1; }
	cd clients/go && go vet ./...

lint-python: tools-python
	cd clients/python && ../../$(VENV)/bin/ruff check . && ../../$(VENV)/bin/ruff format --check .
	cd clients/python && ../../$(VENV)/bin/mypy --strict

lint-ts: tools-ts
	cd $(TS_CLIENT) && npm run --silent lint

## --- tests -------------------------------------------------------------------

# The server is built once; every suite starts its own `mciassrv dev` on a
# free port through $(WITH_SERVER).
test-clients: test-go test-python test-ts test-lisp

# The binary the test build made (`make build-tests`); a separate `cargo
# build` would compile the crate again with other features.
mciassrv-debug: build-tests

test-go: mciassrv-debug
	$(WITH_SERVER) sh -c 'cd clients/go && go test -race -count=1 ./...'

test-python: mciassrv-debug tools-python
	$(WITH_SERVER) sh -c 'cd clients/python && ../../$(VENV)/bin/pytest -q'

test-ts: mciassrv-debug tools-ts
	$(WITH_SERVER) sh -c 'cd $(TS_CLIENT) && rm -rf dist && npm run --silent build && \
	  NODE_EXTRA_CA_CERTS="$$MCIAS_CA_CERT" npm test --silent'

test-lisp: mciassrv-debug tools-lisp
	$(WITH_SERVER) sbcl --script clients/lisp/run-tests.lisp
