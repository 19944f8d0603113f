# Airsage — the commands in the README. Everything lives in .venv/ and .airsage/ (both git-ignored).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV := eval "$$($(BIN)/python -m airsage.devenv)"
PYTEST_ARGS ?=
# test files run in TEST_WORKERS processes (pytest-xdist; a file stays in one process, in order). The
# end-to-end files mostly wait on Airflow and jobs: 2 workers took the suite from 22 to 14 min on 2 cores.
TEST_WORKERS ?= 2

.PHONY: install demo demo-shadow test test-fast up down status clean bench

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -q -r requirements.txt -e .
	@touch $(STAMP)

install: $(STAMP)

# what `make test` needs on top of `make install`: the test-only packages (requirements-test.txt: pytest, moto,
# smclarify, selenium, ...; `make install`/`make demo` and the production image install requirements.txt only) and, for
# tests/browser/, Debian's chromium + chromium-driver -- installed with apt-get when missing and running as root
# (CI: a clean machine); otherwise the browser tests skip, saying how to install them.
TEST_STAMP := $(VENV)/.installed-test
BROWSER_STAMP := $(VENV)/.browser
$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(BIN)/uv pip install --python $(BIN)/python -q -r requirements.txt -r requirements-test.txt
	@touch $(TEST_STAMP)

$(BROWSER_STAMP):
	@if ! { command -v chromium && command -v chromedriver; } >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (apt-get) for the browser tests"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	      >/dev/null; } || echo "apt-get could not install them: tests/browser will skip"; \
	  else echo "chromium/chromedriver missing and not root: tests/browser will skip" \
	            "(sudo apt-get install chromium chromium-driver)"; fi; fi
	@if { command -v chromium && command -v chromedriver; } >/dev/null; then touch $(BROWSER_STAMP); fi

## make demo: the example use case's whole lifecycle through Airflow (safe to run twice; RETRAIN=1 retrains)
demo: $(STAMP)
	@$(ENV) && $(BIN)/python -m airsage.demo $(if $(RETRAIN),--retrain,)

## make demo-shadow: champion and challenger (a pending version scored in shadow, then approved); after make demo
demo-shadow: $(STAMP)
	@$(ENV) && $(BIN)/python -m airsage.demo --shadow

## make test: every test (unit, DAG integrity, architecture, end-to-end through Airflow)
test: $(STAMP) $(TEST_STAMP) $(BROWSER_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 $(PYTEST_ARGS)

## make test-fast: everything but the slow end-to-end runs
test-fast: $(STAMP) $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

## make up: Airflow 3 (api-server, scheduler, dag-processor, triggerer) on :8080 and the MLflow UI on :5000
up: $(STAMP)
	@$(ENV) && $(BIN)/python -m airsage.services up

down:
	@$(ENV) && $(BIN)/python -m airsage.services down

status:
	@$(ENV) && $(BIN)/python -m airsage.services status

bench: $(STAMP) $(TEST_STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean: down
	rm -rf .airsage
