# Entry points for a fresh machine:
#   make demo   create .venv if missing, install glassnet into it, run the main demo
#   make test   same set-up plus the test tools, then the whole test suite
#   make bench  same set-up plus torch (a local wheel), then `glassnet bench`
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run the install whenever pyproject.toml changes.
$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plot,progress]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[plot,progress,test,dashboard]'
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
# (never skipped) next to the NumPy paths' tests.
test: $(VENV)/.test-installed
	GLASSNET_NATIVE=1 $(BIN)/python -m pytest -q

# make bench   W1-W4 next to PyTorch, 2 threads each; table and JSON in build/bench/
bench: $(VENV)/.bench-installed
	$(BIN)/glassnet bench -- --json build/bench/bench.json --markdown build/bench/bench.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis
