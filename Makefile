# Entry points for a fresh machine:
#   make demo   create .venv if missing, install glassnet into it, run the main demo
#   make test   same set-up plus the test tools, then the whole test suite
#   make bench  same set-up plus torch (a local wheel), then `glassnet bench`
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean postgres docs sanitize

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plot,progress]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plot,progress,test,onnx,sklearn,sweep,mpi,rl,notebooks,dashboard]'
	@# the dashboard's browser tests drive Debian's Chromium (never playwright install)
	@if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium; fi
	touch $@

# torch is only for the side-by-side benchmark, from a local wheel when there is one.
TORCH_WHEEL ?= $(firstword $(wildcard /opt/wheels/torch-*.whl))

$(VENV)/.bench-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	@if [ -n "$(TORCH_WHEEL)" ]; then \
	  $(BIN)/python -m pip install --quiet "$(TORCH_WHEEL)" || \
	  echo "bench: could not install $(TORCH_WHEEL); glassnet will be measured alone"; \
	else echo "bench: no torch wheel (set TORCH_WHEEL=...); glassnet will be measured alone"; fi
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/glassnet demo

# GLASSNET_NATIVE=1: the compiled kernels must build here, so their tests run
# (never skipped) next to the NumPy paths' tests. First ruff (the test extra
# installs it) and the core's size budget (tools/loc.py, README "Contributing").
test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tools/loc.py --check
	GLASSNET_NATIVE=1 $(BIN)/python -m pytest -q
	$(MAKE) sanitize

# make sanitize   the compiled kernels' tests again, the kernels built with
# AddressSanitizer and UBSan (into their own cache: the flags are part of the key);
# any report stops the run. float-cast-overflow is not in GCC's "undefined" set.
SAN_CC     ?= gcc
SAN_FLAGS  ?= -fsanitize=address,undefined,float-cast-overflow \
              -fno-sanitize-recover=all -fno-omit-frame-pointer -g
SAN_TESTS  ?= tests/test_native.py tests/test_native_cache.py \
              tests/test_native_conv.py tests/test_native_elementwise.py \
              tests/test_native_lstm.py tests/test_kernels.py \
              tests/test_native_direct.py tests/test_native_dense.py \
              tests/test_native_gemm.py tests/test_native_small.py \
              tests/test_replay.py
sanitize: $(VENV)/.test-installed
	CC="$(SAN_CC)" GLASSNET_NATIVE=1 GLASSNET_NATIVE_CFLAGS="$(SAN_FLAGS)" \
	GLASSNET_CACHE_DIR="$(CURDIR)/build/sanitize-cache" \
	LD_PRELOAD="$$($(SAN_CC) -print-file-name=libasan.so)" \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(BIN)/python -m pytest -q -p no:cacheprovider --capture=sys $(SAN_TESTS)

# The sweep tests start a throwaway PostgreSQL server (tests/_postgres.py) from
# the server's programs; install Debian's package when they are missing (CI runs
# as root; elsewhere through sudo). GLASSNET_SERVICES=1: the sweep, PostgreSQL
# and MPI tests fail instead of skipping when something they need is missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends postgresql; }

test: postgres
test: export GLASSNET_SERVICES = 1

# make bench   W1-W4 next to PyTorch (and W1-W2 next to JAX jit), 2 threads each;
# table and JSON in build/bench/
bench: $(VENV)/.bench-installed
	$(BIN)/glassnet bench -- --json build/bench/bench.json --markdown build/bench/bench.md

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plot,docs]'
	touch $@

# make docs   the documentation site into build/site; warnings are errors (--strict)
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# make test builds the docs too, so a broken page, link or reference fails it
test: docs

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis
