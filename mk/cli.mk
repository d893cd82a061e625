# Operator tooling: man pages (generated from the clap definitions), the
# dist/ files and their linters, install, release tarballs and the image.

VERSION      := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
HOST_TRIPLE  := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
DIST_NAME    := mcias-$(VERSION)-$(HOST_TRIPLE)
DIST_DIR     := target/dist
PREFIX       ?= /usr/local

TOOLS_TARGETS += tools-cli
GEN_TARGETS   += man
LINT_TARGETS  += lint-man lint-dist

.PHONY: gen man tools-cli lint-man lint-dist install dist docker

gen: $(GEN_TARGETS)

## mandoc, shellcheck and systemd-analyze for `make lint` (Debian packages).
tools-cli:
	tools/scripts/apt-install.sh mandoc shellcheck systemd

## Regenerates man/ from the clap definitions and man/src/*.roff (a test
## fails when the committed pages are out of date).
man:
	$(CARGO) run --quiet -p mcias-mangen -- man

lint-man:
	mandoc -T lint man/man1/*.1 man/man5/*.5 man/man8/*.8

# systemd-analyze verify checks that ExecStart's binary exists; the unit is
# verified with it pointing at /bin/true so that CI needs no installed server.
lint-dist:
	shellcheck -s sh dist/install.sh tools/scripts/apt-install.sh
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  sed 's|^ExecStart=[^ ]*|ExecStart=/bin/true|' dist/mcias.service >"$$tmp/mcias.service" && \
	  echo "systemd-analyze verify dist/mcias.service" && \
	  systemd-analyze verify --man=no "$$tmp/mcias.service"

## Installs binaries, unit, man pages and example config (as root; never
## starts the service). DESTDIR=... stages instead.
install: build
	PREFIX=$(PREFIX) sh dist/install.sh target/release

## Release tarball: target/dist/mcias-VERSION-TRIPLE.tar.gz (and .sha256)
## with the binaries, man pages, unit, example configs and install.sh.
dist: build
	rm -rf $(DIST_DIR)/$(DIST_NAME)
	mkdir -p $(DIST_DIR)/$(DIST_NAME)/bin
	cp target/release/mciassrv target/release/mciasctl target/release/mciasdb \
	  $(DIST_DIR)/$(DIST_NAME)/bin/
	cp -R man $(DIST_DIR)/$(DIST_NAME)/man
	cp dist/install.sh dist/mcias.service dist/mcias.conf.example \
	  dist/mcias-dev.conf.example dist/mcias.env.example README.md \
	  $(DIST_DIR)/$(DIST_NAME)/
	tar -C $(DIST_DIR) -czf $(DIST_DIR)/$(DIST_NAME).tar.gz $(DIST_NAME)
	cd $(DIST_DIR) && sha256sum $(DIST_NAME).tar.gz >$(DIST_NAME).tar.gz.sha256
	@echo "$(DIST_DIR)/$(DIST_NAME).tar.gz"

## The server image (needs a Docker engine; not run in CI).
docker:
	docker build -f dist/Dockerfile -t mcias:$(VERSION) .
