# Entry points a newcomer can read in one screen. `make start` and `make test` are
# the two commands in the README; both install what they need from scratch.

VENV ?= .venv
DATA ?= shoal-data
PORT ?= 8066
PYTHON ?= python3
SHOAL := $(VENV)/bin/shoal --data $(DATA)
# Every install takes the versions locked here (`make lock` regenerates it).
LOCK := requirements/dev.lock

.PHONY: start start-check test clients dbt conformance spark lock lint bench clean

$(VENV)/.runtime: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c $(LOCK) -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(LOCK) $(VENV)/.runtime
	$(VENV)/bin/pip install -q -c $(LOCK) -e ".[dev]"
	touch $@

## start: install, write and crawl the sample lake, then serve the AWS APIs on $(PORT)
start: $(VENV)/.runtime
	$(SHOAL) sample-data
	$(SHOAL) catalog tables sample
	$(SHOAL) serve --port $(PORT)

## start-check: `make start` in a fresh runtime-only virtualenv answers a query (CI)
start-check:
	scripts/start-check

## test: install everything (PostgreSQL included) and run lint, types and the whole suite
test: $(VENV)/.dev
	scripts/test

## clients: tests/clients with the newest AWS clients and those of a year ago (CI runs it)
clients:
	PYTHON=$(PYTHON) scripts/client-matrix

## dbt: a dbt project of our own (tests/dbt) built twice against a real shoal serve,
## every table checked against answers from the sample files (CI runs it); dbt in .venv-dbt
dbt: $(VENV)/.runtime
	VENV=$(VENV) PYTHON=$(PYTHON) scripts/dbt-project

## conformance: PyAthena's own test suite against a real shoal serve (docs/conformance.md)
conformance: $(VENV)/.runtime
	PYTHON=$(PYTHON) SHOAL_PYTHON=$(VENV)/bin/python scripts/pyathena-conformance

## spark: the Spark engine's tests (tests/spark, the behaviour suite on Spark): hadoop-aws
## fetched once into .spark-jars/, Spark Connect servers started from the pip-installed
## pyspark (needs Java 17+)
spark: $(VENV)/.dev
	PYTHON=$(VENV)/bin/python scripts/spark-jars
	$(VENV)/bin/pytest -m spark tests/spark tests/behaviour

## lock: re-resolve the dev dependencies to today's newest allowed; rewrites $(LOCK)
lock:
	PYTHON=$(PYTHON) scripts/lock

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: $(VENV)/.dev
	$(VENV)/bin/python benchmarks/crawl_many_files.py

clean:
	rm -rf $(VENV) .venv-clients .venv-dbt .venv-pyathena $(DATA) .pytest_cache .mypy_cache \
		.ruff_cache
