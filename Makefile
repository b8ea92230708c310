# `make demo` and `make test` each create venv/ and install what they need on a fresh machine.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# The uv that bootstraps the venv; uv.lock pins the same version in the dev group, so syncing keeps it.
UV_VERSION := 0.13.9
INSTALLED := $(VENV)/.installed
# uv installs into venv/, where Pulumi's `toolchain: uv` (virtualenv: venv) installs too.
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# Nothing is byte-compiled at install, so Python must be free to keep what it compiles on import
# (`__pycache__/`, ignored by git). A PYTHONDONTWRITEBYTECODE exported by the caller's shell (some
# container images set it) made every process compile every module it imports again, every time:
# 0.8 s of a 10-trigger evaluation's 1.5 s, ~1.7 s for each process that imports moto and the SDK.
unexport PYTHONDONTWRITEBYTECODE
# pytest workers: `auto` is one per core; PYTEST_WORKERS=0 runs in this process (for a debugger).
# loadgroup: tests sharing a module-scoped fixture stay on one worker (tests/conftest.py).
PYTEST_WORKERS ?= auto

.PHONY: help demo test bench lint clean

# uv installs exactly uv.lock (hashed, whole tree) and fails if it no longer matches pyproject.toml
# (`venv/bin/uv lock` updates it). No eager byte-compiling: Python compiles what it imports.
$(INSTALLED): pyproject.toml uv.lock service_images/common/pyproject.toml tests/asl/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(PY) -m pip install -qq --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --locked --quiet
	# asl-validator (npm, pinned by its lock): tests/test_orchestration.py validates the rendered ASL.
	npm ci --prefix tests/asl --no-audit --no-fund --silent
	touch $@

## help: list these targets (from their `## target:` comments)
help:
	@awk '/^## [a-z-]+: / { sub(/^## /, ""); t = $$0; sub(/: .*/, "", t); sub(/^[a-z-]+: /, ""); printf "  %-6s %s\n", t, $$0; next } \
	      /^## / { sub(/^## /, ""); printf "  %-6s %s\n", "", $$0 }' $(MAKEFILE_LIST)

## demo: run the saga end to end on a local AWS emulator (ARGS="--stack cloud --help" ...)
demo: $(INSTALLED)
	$(PY) -m sandbox $(ARGS)

## test: the whole test suite (unit, mocked stacks, services and emulator integration), in parallel
test: $(INSTALLED)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(ARGS)

## bench: measure the sandbox, the program's evaluation and the test suite (ARGS="--help")
bench: $(INSTALLED)
	$(PY) -m bench $(ARGS)

## lint: ruff (lint and format); the workflows and Dependabot config against their schemas, and every
## `uses:` pinned by commit SHA, every job with a timeout, every checkout without persisted credentials
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(PY) .ci/check_workflows.py .github/workflows/*.yml

## clean: remove venv/ and the caches
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
