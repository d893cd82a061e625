# The OpenID Connect provider end to end: a real browser (Debian's Chromium
# driven by playwright-core), openid-client, a go-oidc relying party and
# oauth2-proxy, each against a fresh `mciassrv dev` (tests/oidc/README.md).
#
#   make tools-oidc  Chromium and sqlite3 (Debian), tests/oidc's npm lock, the Go binaries
#   make lint-oidc   gofmt and go vet of the Go RP, node --check of the tests
#   make test-oidc   the suite (node --test), one server per test file

TOOLS_TARGETS += tools-oidc
LINT_TARGETS  += lint-oidc
TEST_TARGETS  += test-oidc

OIDC_DIR            := tests/oidc
OIDC_APT_PACKAGES   := chromium sqlite3
OAUTH2_PROXY_VERSION := v7.15.6
OIDC_BIN            := tools/bin
# Stamps are named apart from mk/clients.mk's `.stamp-*`, which that file
# removes when its plugins change.
OAUTH2_PROXY_STAMP  := $(OIDC_BIN)/.oauth2-proxy-$(OAUTH2_PROXY_VERSION)
GO_RP               := $(OIDC_BIN)/mcias-go-rp
GO_RP_SOURCES       := $(wildcard $(OIDC_DIR)/go-rp/*.go) $(OIDC_DIR)/go-rp/go.mod $(OIDC_DIR)/go-rp/go.sum
OIDC_NPM_STAMP      := $(OIDC_DIR)/node_modules/.package-lock.json

.PHONY: tools-oidc tools-oidc-apt tools-oidc-npm tools-oidc-go lint-oidc test-oidc

tools-oidc: tools-oidc-apt tools-oidc-npm tools-oidc-go

## Debian's Chromium at /usr/bin/chromium (playwright-core never downloads a
## browser of its own); sqlite3, with which admin.test.mjs backdates a
## session's sign-in for the console's step-up.
tools-oidc-apt:
	tools/scripts/apt-install.sh $(OIDC_APT_PACKAGES)

tools-oidc-npm: $(OIDC_NPM_STAMP)

$(OIDC_NPM_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	cd $(OIDC_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	touch $@

tools-oidc-go: $(OAUTH2_PROXY_STAMP) $(GO_RP)

$(OAUTH2_PROXY_STAMP):
	mkdir -p $(OIDC_BIN)
	GOBIN=$(abspath $(OIDC_BIN)) go install github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION)
	rm -f $(OIDC_BIN)/.oauth2-proxy-*
	touch $@

# Rebuilt only when its sources change.
$(GO_RP): $(GO_RP_SOURCES)
	mkdir -p $(OIDC_BIN)
	cd $(OIDC_DIR)/go-rp && go build -buildvcs=false -o $(abspath $(GO_RP)) .

lint-oidc:
	cd $(OIDC_DIR)/go-rp && test -z "$$(gofmt -l .)" || { gofmt -l . >&2; exit 1; }
	cd $(OIDC_DIR)/go-rp && go vet ./...
	for f in $(OIDC_DIR)/*.mjs $(OIDC_DIR)/lib/*.mjs; do node --check "$$f" || exit 1; done

## The suite: each file starts its own `mciassrv dev` (target/debug/mciassrv
## or $$MCIAS_BIN) and one headless Chromium. Files run one after another.
test-oidc: tools-oidc mciassrv-debug
	cd $(OIDC_DIR) && MCIAS_BIN=$${MCIAS_BIN:-$(abspath $(MCIASSRV))} \
	  CHROMIUM=/usr/bin/chromium \
	  OAUTH2_PROXY=$(abspath $(OIDC_BIN))/oauth2-proxy \
	  GO_RP=$(abspath $(GO_RP)) \
	  npm test --silent
