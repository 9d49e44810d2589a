# EvoSelfCode: `make demo` and `make test` set everything up themselves and skip what is done.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
# torch first and exactly this version: on the project's machines it is a CPU wheel on disk;
# any other spec pulls gigabytes of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
# Every other Python package comes from uv.lock (`make lock` makes it), installed by this uv.
UV_SPEC ?= uv==0.13.9
UV := $(VENV)/bin/uv

PY_SOURCES := $(shell find server models evolution evaluation -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null)
TS_SOURCES := $(shell find extension/src -name '*.ts' 2>/dev/null)
# The models the repository ships (completion, chat); the .vsix carries them
# (scripts/package-vsix.mjs).
SHIPPED_MODEL_FILES := $(wildcard models/evoselfcode-small/* models/evoselfcode-small-chat/*)

.PHONY: help setup python lock lock-check node extension demo test lint typecheck pytest test-llama test-extension e2e bench clean

help:
	@echo "make demo   set up, then run the whole loop on the shipped small model"
	@echo "make test   set up, then lint, type-check and run every test"
	@echo "make bench  run the benchmarks in bench/ (each prints a JSON line)"
	@echo "make lock   re-resolve uv.lock from pyproject.toml (PACKAGE=name upgrades that one)"

setup: python node extension

# --- Python ---------------------------------------------------------------------------------
# uv sync --locked fails rather than re-resolve when uv.lock and pyproject.toml disagree;
# --inexact keeps torch, which the lock leaves to TORCH_SPEC.
python: $(STAMPS)/python
$(STAMPS)/python: pyproject.toml uv.lock
	@mkdir -p $(STAMPS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" "$(UV_SPEC)"
	$(UV) sync --quiet --locked --inexact --extra dev --group torch-runtime
	$(PY) -m pip check
	touch $@

# uv alone, for the lock targets: they must work while pyproject.toml and uv.lock disagree.
$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(UV_SPEC)"

# Re-resolve after editing pyproject.toml; `make lock PACKAGE=transformers` moves that package to
# its newest allowed version, `make lock PACKAGE=all` every package.
lock: $(UV)
	$(UV) lock $(if $(filter all,$(PACKAGE)),--upgrade,$(if $(PACKAGE),--upgrade-package $(PACKAGE)))

# The resolver's own check that uv.lock still matches pyproject.toml.
lock-check: $(UV)
	$(UV) lock --check

# --- Extension ------------------------------------------------------------------------------
node: $(STAMPS)/node
$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

extension: dist/extension.js evoselfcode.vsix
dist/extension.js: $(STAMPS)/node $(TS_SOURCES) esbuild.mjs
	npm run --silent bundle
evoselfcode.vsix: dist/extension.js package.json pyproject.toml .vscodeignore scripts/package-vsix.mjs $(PY_SOURCES) $(SHIPPED_MODEL_FILES)
	npm run --silent package

# --- Run ------------------------------------------------------------------------------------
demo: setup
	$(VENV)/bin/evoselfcode demo

test: setup lock-check lint typecheck pytest test-extension e2e

lint: $(STAMPS)/python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/python $(STAMPS)/node
	npx --no-install pyright
	npm run --silent typecheck

# pytest-randomly shuffles the order on every run, so a test that leans on another one fails.
# The seed is printed first: `make pytest SEED=N` repeats that order.
SEED ?= $(shell date +%s)
SEED := $(SEED)
pytest: $(STAMPS)/python
	@echo "pytest in a shuffled order: SEED=$(SEED)"
	$(PY) -m pytest -q -p randomly --randomly-seed=$(SEED) -m "not llama"

# llama.cpp in the server process (backend llama.cpp) needs the optional llama extra, which
# compiles llama.cpp from source (about 35 minutes on 2 cores), so `make test` leaves its tests
# out; this installs the extra from the lock and runs them.
test-llama: $(STAMPS)/python
	$(UV) sync --quiet --locked --inexact --extra dev --extra llama --group torch-runtime
	$(PY) -m pytest -q -m llama

# The unit tests run the interpreter preflight with .venv's Python, hence the python stamp.
test-extension: $(STAMPS)/node $(STAMPS)/python
	npm run --silent lint
	npm run --silent test:unit

# A real VS Code (code-server + headless Chromium) with the .vsix installed; its set-up
# installs what it needs once (see extension/e2e/setup.mjs). Screenshots: test-results/e2e/.
e2e: setup
	npm run --silent test:e2e

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(STAMPS) dist bundled evoselfcode.vsix .pytest_cache .ruff_cache
