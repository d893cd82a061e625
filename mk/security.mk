# The security suites beyond `cargo test --workspace` (SECURITY.md): the
# fuzz targets in fuzz/ (cargo-fuzz, libFuzzer) and their smoke run. The
# crash and attack suites are ordinary tests (tests/crash.rs,
# tests/attack.rs, tests/http/test_attack_flood.py) and run with the rest.
#
#   make fuzz-smoke  every target over its committed seeds and seeded
#                    mutations of them, as a plain test (any toolchain;
#                    part of `make test`)
#   make tools-fuzz  cargo-fuzz, pinned, into tools/cargo-fuzz (git-ignored)
#   make fuzz        coverage-guided libFuzzer runs, FUZZ_TIME seconds a
#                    target, one after another at low priority (a nightly
#                    toolchain for the sanitizer; FUZZ_TARGETS to choose)

TEST_TARGETS += fuzz-smoke

CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ_ROOT    := tools/cargo-fuzz
CARGO_FUZZ         := $(CARGO_FUZZ_ROOT)/bin/cargo-fuzz
CARGO_FUZZ_STAMP   := $(CARGO_FUZZ_ROOT)/.version-$(CARGO_FUZZ_VERSION)
FUZZ_TARGETS       ?= jwt rest_binding config phc seal totp grpc_service
FUZZ_TIME          ?= 60
FUZZ_TOOLCHAIN     ?= nightly

.PHONY: fuzz-smoke tools-fuzz fuzz

## Each fuzz target over its seed corpus and mutations of it (seconds).
fuzz-smoke:
	$(CARGO) test -p mcias-server --test fuzz_smoke

tools-fuzz: $(CARGO_FUZZ_STAMP)

$(CARGO_FUZZ_STAMP):
	$(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION) --root $(CARGO_FUZZ_ROOT)
	rm -f $(CARGO_FUZZ_ROOT)/.version-*
	touch $@

## Coverage-guided runs: new inputs go to fuzz/corpus-run/<target>
## (git-ignored), crashes to fuzz/artifacts/<target>; the committed seeds in
## fuzz/corpus/<target> are only read.
fuzz: tools-fuzz
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus-run/$$t && \
	  RUSTUP_TOOLCHAIN=$(FUZZ_TOOLCHAIN) nice -n 19 ../$(CARGO_FUZZ) run -O $$t \
	    corpus-run/$$t corpus/$$t -- -max_total_time=$(FUZZ_TIME) -rss_limit_mb=4096 \
	    -print_final_stats=1 || exit 1; \
	done
LINT_TARGETS += lint-fuzz

.PHONY: lint-fuzz

## Clippy for the smoke test, which `cargo clippy --all-targets` skips
## (`test = false`), and with it the fuzz targets' bodies.
lint-fuzz:
	$(CARGO) clippy -p mcias-server --test fuzz_smoke -- -D warnings
