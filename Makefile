# Two commands set everything up on a fresh machine:
#   make demo   - creates .venv when missing, then runs the embedded-default job
#   make test   - creates .venv when missing, then runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.speechdistill-installed
DEMO_OUT ?= runs/demo

.PHONY: env test lint demo clean

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

# Until the end-to-end demo lands, the main job builds a small synthetic corpus and describes it.
demo: $(STAMP)
	$(VENV)/bin/speechdistill corpus synth --out $(DEMO_OUT)/corpus --hours 0.2 --jobs 2
	$(VENV)/bin/speechdistill corpus stats $(DEMO_OUT)/corpus/train.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
