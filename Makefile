# `make demo` and `make test` each create venv/ and install what they need on a fresh machine.
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint clean

$(INSTALLED): requirements.txt requirements-dev.txt policy/requirements.txt service_images/common/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## demo: run the saga end to end on a local AWS emulator (ARGS="--stack cloud --help" ...)
demo: $(INSTALLED)
	$(PY) -m sandbox $(ARGS)

## test: the whole test suite (unit, mocked stacks, services and emulator integration)
test: $(INSTALLED)
	$(PY) -m pytest $(ARGS)

## lint: ruff (lint and format); the workflows and Dependabot config against their schemas, and every
## `uses:` pinned by commit SHA, every job with a timeout, every checkout without persisted credentials
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(PY) .ci/check_workflows.py .github/workflows/*.yml

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
