# Two commands set everything up on a fresh machine:
#   make demo   - creates .venv when missing, then runs the embedded-default job
#   make test   - creates .venv when missing, then runs the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.speechdistill-installed
DEMO_OUT ?= runs/demo

.PHONY: env test lint demo demo-quick device-wheels clean

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

# Wheels a bare GPU image (Python 3.12 with torch, torchaudio, transformers) lacks, for
# recipes/teachers/train_on_gpu.sh: ~30 MB into .whl/ (git-ignored). Piper (92 MB) is left out on purpose.
DEVICE_WHEELS := soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 jiwer==4.0.0 rapidfuzz==3.14.6 \
	espeakng-loader==0.2.4 hibari-tts==0.2.1 soxr==1.1.0 flashlight-text==0.0.7
device-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --platform any -d .whl $(DEVICE_WHEELS)
	du -sh .whl

clean:
	rm -rf $(VENV) .pytest_cache
