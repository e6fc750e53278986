# make run  : create .venv, install, serve on embedded defaults (SQLite + local files under ./data)
# make test : create .venv, install, run every check of make lint, then the whole test suite
#             on every core (xdist; the tests of one backend or one server fixture share a worker, see
#             tests/conftest.py) with a coverage floor (pyproject's fail_under; a run narrowed with PYTEST_ARGS
#             skips it). make test-fast skips the tests marked slow: OCR runs and real server processes
# make lint : ruff, ruff format --check, mypy (strict on the core), import-linter
# make bench: benchmarks under bench/ (ratios against a baseline measured in the same run)
# make eval : extraction quality of the configured extractor on the development receipts (DATASET=...)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DATASET ?= ../shared/data/receipts

.PHONY: run test test-fast lint bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[server,ocr]" --group dev
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/receiptcore serve

PARALLEL := -n auto --dist loadgroup
COVERAGE := $(if $(strip $(PYTEST_ARGS)),,--cov --cov-report=)

test: lint
	$(BIN)/python -m pytest $(PARALLEL) $(COVERAGE) $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PARALLEL) -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/http_bench.py $(BENCH_ARGS)

eval: $(STAMP)
	$(BIN)/receiptcore eval $(DATASET)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
