# monolith: two commands do all set-up. `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_BASE := $(VENV)/.installed-base
STAMP_ALL := $(VENV)/.installed-all
PYTEST_ARGS ?=

.PHONY: install install-all demo test lint format unit contract integration protos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_BASE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[torch]'
	touch $@

$(STAMP_ALL): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all,test]'
	touch $@ $(STAMP_BASE)

## install: create .venv and install the package (torch backend).
install: $(STAMP_BASE)

install-all: $(STAMP_ALL)

## demo: the whole loop on embedded defaults.
demo: $(STAMP_BASE)
	$(BIN)/monolith demo

## lint: format check, ruff, mypy strict, import-linter.
lint: $(STAMP_ALL)
	$(BIN)/ruff format --check monolith tests benchmarks
	$(BIN)/ruff check monolith tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP_ALL)
	$(BIN)/ruff format monolith tests benchmarks
	$(BIN)/ruff check --fix monolith tests benchmarks

## test: lint, then unit, contract and integration tests.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS) tests

unit: $(STAMP_ALL)
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS) tests

protos: $(STAMP_ALL)
	$(BIN)/python scripts/gen_protos.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
