# agentdeck developer tasks.  `make help` lists the targets.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
# mypy refuses a directory without .py files (e.g. an empty bench/): pass only
# the ones that have some.
MYPY_DIRS   := workflows tui bench tests
MYPY_PATHS   = $(foreach d,$(MYPY_DIRS),$(if $(shell find $(d) -name '*.py' -print -quit 2>/dev/null),$(d)))

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help venv run test unit lint bench screenshots docs clean pg

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_.-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	touch $@

venv: $(STAMP) ## create/refresh .venv (pip install -c constraints.txt -e '.[dev]')

run: $(STAMP) ## open the dashboard
	$(BIN)/agentdeck

test: $(STAMP) ## run the test suite on 4 processes, a file each (starts a throwaway PostgreSQL); PYTEST_ARGS='...' passes through
	$(BIN)/pytest -q -n 4 --dist loadfile $(PYTEST_ARGS)

unit: $(STAMP) ## the quick loop: tests/unit only (pure functions and single widgets, ~30 s)
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict, lint-imports (the declared layers)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict $(MYPY_PATHS)
	$(BIN)/lint-imports

bench: $(STAMP) ## run every bench script, then a table of every figure (bench/report.py)
	$(BIN)/python bench/report.py

docs: $(STAMP) ## build the documentation site (docs/ → site/, strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

screenshots: $(STAMP) ## regenerate the dashboard screenshots (python -m tests.support.screenshots)
	$(BIN)/python -m tests.support.screenshots

pg: $(STAMP) ## start a throwaway PostgreSQL, print its URL (ctrl+c stops it and deletes it)
	$(BIN)/python -m tests.pg

clean: ## remove .venv, caches and the app's *.sqlite files
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -f *.sqlite *.sqlite-wal *.sqlite-shm *.sqlite-journal
