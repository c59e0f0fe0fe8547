# Two entry points, each doing all set-up on a fresh machine:
#   make train   -> spikerl train --env Breakout (default preset)
#   make test    -> lint, type check and the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup train test lint typecheck pytest clean

$(STAMP): requirements/constraints.txt pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c requirements/constraints.txt -e ".[dev,ray]"
	touch $(STAMP)

setup: $(STAMP)

train: $(STAMP)
	$(BIN)/spikerl train --env Breakout $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check spikerl tests scripts
	$(BIN)/ruff format --check spikerl tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collects no test; that is not a failure of the suite.
pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
