VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast train notebooks lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The whole suite (CI, the README): end-to-end runs, notebooks and the JupyterLab server included.
test: install
	$(PY) -m ruff check hrnet_lit tests
	$(PY) -m pytest -q --durations=15

# The unit lane, for every edit: no end-to-end runs, notebooks or servers (the `slow` marker). Its
# ~4 CPU-minutes are mostly compiling, exporting and summarising networks; one pytest worker per core
# (pytest-xdist) keeps it under 3 minutes on 2 cores.
test-fast: install
	$(PY) -m ruff check hrnet_lit tests
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -q -m "not slow" -n auto

# One BLAS/OpenMP thread: on 2 cores, two threads slow down by an order of magnitude as soon as
# anything else runs (measured), and the quickstart network is too small to gain from them.
train: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(VENV)/bin/hrnet-lit fit --config configs/quickstart.yaml

# JupyterLab on notebooks/ (the dev extra includes the `notebooks` one); more server flags in
# JUPYTER_FLAGS, e.g. make notebooks JUPYTER_FLAGS="--no-browser --ServerApp.port=8890"
notebooks: install
	$(VENV)/bin/jupyter lab notebooks/ $(JUPYTER_FLAGS)

lint: install
	$(PY) -m ruff check hrnet_lit tests
	$(PY) -m ruff format --check hrnet_lit tests

clean:
	rm -rf $(VENV) lightning_logs outputs
