# The REST surface: the committed OpenAPI document, and the tests that use
# off-the-shelf HTTP tooling (PyJWT relying party, schemathesis, buf curl).

REST_VENV := tools/venv-rest
REST_PY   := $(REST_VENV)/bin/python
REST_STAMP := $(REST_VENV)/.stamp

GEN_TARGETS   += gen-openapi
TOOLS_TARGETS += tools-rest
TEST_TARGETS  += test-rest

.PHONY: gen gen-openapi tools-rest test-rest

gen: $(GEN_TARGETS)

gen-openapi:
	mkdir -p gen/openapi
	$(CARGO) run --quiet --bin mciassrv -- openapi > gen/openapi/mcias.openapi.json.tmp
	mv gen/openapi/mcias.openapi.json.tmp gen/openapi/mcias.openapi.json

tools-rest: $(REST_STAMP)

# A stamp file, not the interpreter: bin/python is a symlink to the system's.
$(REST_STAMP): tests/http/requirements.txt
	test -x $(REST_PY) || python3 -m venv $(REST_VENV)
	$(REST_PY) -m pip install --quiet --disable-pip-version-check -r tests/http/requirements.txt
	touch $@

test-rest: $(REST_STAMP) $(BUF) mciassrv-debug
	MCIAS_BIN=target/debug/mciassrv BUF=$(BUF) $(REST_PY) -m pytest -q tests/http

.PHONY: bench
## Hot-path figures (release build): validations and refreshes per second;
## the console's account search over 100,000 accounts.
bench:
	$(CARGO) bench --bench hotpath --bench console
