# sklearn-constrained: `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The CPU wheel of torch 2.13.0 is installed first when no torch is importable,
# so that pip never pulls a multi-GB CUDA build to satisfy `torch>=2.2`.
TORCH_PIN ?= torch==2.13.0
# Test workers: one per core; each worker uses one BLAS/OpenMP thread.
TEST_WORKERS ?= 2

.PHONY: setup demo lint test test-slow docs bench examples examples-quick clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -c "import torch" 2>/dev/null || $(VPY) -m pip install "$(TORCH_PIN)"
	$(VPY) -m pip install -e ".[test,dask]"
	touch $(STAMP)

demo: $(STAMP)
	$(VPY) examples/demo.py

# Lint: ruff, configured in pyproject.toml (the `lint` extra); CI runs it first.
LINT_STAMP := $(VENV)/.installed-lint

$(LINT_STAMP): $(STAMP) setup.cfg
	$(VPY) -m pip install -e ".[lint]"
	touch $(LINT_STAMP)

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	SCIPY_ARRAY_API=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VPY) -m pytest -n $(TEST_WORKERS) --durations=15 tests

test-slow: $(STAMP)
	$(VPY) -m pytest -m slow tests

# Documentation (mkdocs-material + mkdocstrings, see mkdocs.yml): every warning
# is an error. The gallery shows the committed figures of `make examples`.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP) setup.cfg
	$(VPY) -m pip install -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Every script in examples/ that takes `--out PATH` writes a figure (and may take
# `--quick` for a smoke run); scripts without `--out` (e.g. torchrun launchers)
# are skipped. `make examples` writes the gallery's figures to
# docs/gallery/<script>.png; `make examples-quick` (CI) runs each once, quick
# where the script has a quick mode, writing to build/gallery-quick/. One
# OpenMP thread: small models train several times faster than with threads
# competing for two cores.
EXAMPLES := $(sort $(wildcard examples/*.py))
EXAMPLE_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg

examples: $(STAMP)
	@mkdir -p docs/gallery
	@set -e; for f in $(EXAMPLES); do \
	  grep -q -- '--out' $$f || { echo "== $$f: writes no figure (no --out), skipped"; continue; }; \
	  n=$$(basename $$f .py); t0=$$(date +%s); echo "== $$f"; \
	  $(EXAMPLE_ENV) $(VPY) $$f --out docs/gallery/$$n.png; \
	  echo "== $$f: $$(( $$(date +%s) - t0 )) s"; \
	done

examples-quick: $(STAMP)
	@mkdir -p build/gallery-quick
	@set -e; for f in $(EXAMPLES); do \
	  grep -q -- '--out' $$f || { echo "== $$f: writes no figure (no --out), skipped"; continue; }; \
	  n=$$(basename $$f .py); q=; grep -q -- '--quick' $$f && q=--quick; \
	  t0=$$(date +%s); echo "== $$f $$q"; \
	  $(EXAMPLE_ENV) $(VPY) $$f --out build/gallery-quick/$$n.png $$q; \
	  echo "== $$f: $$(( $$(date +%s) - t0 )) s"; \
	done

# Benchmarks (benchmarks/, results in benchmarks/results/): the `bench` extra
# installs the libraries compared against (Cooper, fairlearn).
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) setup.cfg
	$(VPY) -m pip install -e ".[bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(VPY) -m benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache site
