# Two commands set everything up on a fresh machine:
#   make demo   - creates .venv when missing, then runs the embedded-default job
#   make test   - creates .venv when missing, then runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.speechdistill-installed
DEMO_OUT ?= runs/demo

.PHONY: env test lint demo demo-quick clean

env: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q --durations=20 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The main job: corpus -> shipped teachers -> cache -> two students -> int8 bundle -> benchmark (~30 min on
# 2 CPU cores; a rerun reuses finished stages). `make demo-quick`: the same in ~5 minutes, not figures to quote.
demo: $(STAMP)
	$(VENV)/bin/speechdistill demo --out $(DEMO_OUT)

demo-quick: $(STAMP)
	$(VENV)/bin/speechdistill demo --quick --out $(DEMO_OUT)-quick

clean:
	rm -rf $(VENV) .pytest_cache
