# Quick start: `make demo` (plan for the bundled example) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled
export OMP_NUM_THREADS := 1

.PHONY: demo planner test lint test-slow bench bench-docs bench-dask bench-dask-docs data hillstrom hillstrom-readme weekly weekly-readme clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The solver's numba loops, compiled once into their disk cache (optimizer/solve/warmup.py, about
# 10 s), so that no solve pays for compiling inside its time limit; again when the solver changes.
$(COMPILED): $(STAMP) $(wildcard optimizer/solve/*.py)
	$(BIN)/python -m optimizer.solve.warmup
	touch $(COMPILED)

demo: $(COMPILED)
	$(BIN)/cvo optimize scenarios/weekly.yaml --out out/weekly

# The weekly run with promised contacts, a do-not-contact list, an own objective and an ROI hurdle.
planner: $(COMPILED)
	$(BIN)/cvo optimize scenarios/planner.yaml --out out/planner

# The report's browser test renders report.html in Debian's headless Chromium (skipped, with its
# reason, without it): `make chromium` installs it (root or sudo, ~110 MB); .ci/run does, before `make test`.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

chromium: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium

lint: $(STAMP)
	$(BIN)/ruff check optimizer tests bench examples
	$(BIN)/mypy

test: lint $(COMPILED)
	$(BIN)/python -m pytest -q

test-slow: $(COMPILED)
	$(BIN)/python -m pytest -q -m slow

# Examples and the bench write under out/; the *-readme / bench-docs targets update the committed figures.
bench: $(COMPILED)
	$(BIN)/python bench/run.py --out out/benchmarks.md
	$(BIN)/python bench/startup.py --out out/benchmarks.md
	$(BIN)/python bench/seeds.py --out out/benchmarks.md

bench-docs: $(COMPILED)
	$(BIN)/python bench/run.py --out docs/benchmarks.md
	$(BIN)/python bench/startup.py --out docs/benchmarks.md
	$(BIN)/python bench/seeds.py --out docs/benchmarks.md

bench-dask: $(COMPILED)
	$(BIN)/python bench/dask_scaling.py --out out/scaling.md

bench-dask-docs: $(COMPILED)
	$(BIN)/python bench/dask_scaling.py --out docs/scaling.md

hillstrom: $(COMPILED)
	$(BIN)/python examples/hillstrom/run.py

hillstrom-readme: $(COMPILED)
	$(BIN)/python examples/hillstrom/run.py --update-readme

weekly: $(COMPILED)
	$(BIN)/python examples/weekly/run.py

weekly-readme: $(COMPILED)
	$(BIN)/python examples/weekly/run.py --update-readme

data: $(STAMP)
	$(BIN)/python examples/generate_data.py --out examples/data

clean:
	rm -rf $(VENV) out .pytest_cache
