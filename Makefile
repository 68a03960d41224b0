# shipwave: `make demo` and `make test` do all set-up on a fresh clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.shipwave-installed
NODE_STAMP := node_modules/.shipwave-installed
SYSTEM_PYTHON ?= python3

export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup browser demo test coverage lint typecheck unit bench chaos synth cfn-lint clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(PY) || $(SYSTEM_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(VENV)/bin/shipwave demo

lint: setup
	$(VENV)/bin/ruff check functions infra statemachines examples tests bench docs
	$(VENV)/bin/ruff format --check functions infra statemachines examples tests bench docs

typecheck: setup
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the browser tests drive Debian's Chromium with its matching chromedriver (installed once)
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: lint typecheck browser
	$(PY) -m pytest -n 2

# the same suite under coverage (its tracing adds about a third to the run: not in `make test`)
coverage: setup browser
	$(PY) -m pytest -n 2 --cov=functions --cov=statemachines --cov-report=term:skip-covered

unit: setup
	$(PY) -m pytest tests/unit -q

bench: setup
	$(PY) bench/event_log.py
	$(PY) bench/synth.py
	$(PY) bench/synth.py --runs 1 --pipelines examples.ten_services:PIPELINES
	$(PY) bench/cold_start.py
	$(PY) bench/engine.py
	$(PY) bench/contention.py
	$(PY) bench/fuzz.py
	$(PY) bench/dashboard.py

# the chaos suite: 200 randomized runs under injected faults (make test runs 12 of them)
chaos: setup
	$(PY) bench/chaos.py --runs 200

synth: setup
	npx cdk synth -q

cfn-lint: synth
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

clean:
	rm -rf $(VENV) node_modules .shipwave cdk.out .pytest_cache .mypy_cache .ruff_cache
