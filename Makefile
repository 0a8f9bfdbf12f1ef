# wattbit — two commands that work on a fresh machine:
#   make demo   sets up .venv and runs the main job on the embedded japan-2022 demo (writes out/demo/report.html)
#   make test   sets up .venv with the dev extras (and any Debian packages the tests need) and runs all tests

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-long test-deps lint typecheck check fuzz-long bench bench-sweep bench-engine bench-rl bench-peer bench-pypsa bench-ops demo-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/wattbit demo --out out/demo

# Debian packages the tests start for real: prometheus (2.42), installed without starting its system service;
# PostgreSQL 15 (the tests run their own server in a temporary folder) and chromium (the dashboard's browser tests)
test-deps:
	command -v prometheus >/dev/null || sh scripts/install_prometheus.sh
	test -x /usr/lib/postgresql/15/bin/pg_ctl || sh scripts/install_postgresql.sh
	test -x /usr/bin/chromium || sh scripts/install_chromium.sh
	command -v slurmctld >/dev/null || sh scripts/install_slurm.sh

test: $(DEV_STAMP) test-deps
	$(BIN)/python -m pytest -q

# lint-imports checks the layer contract (pyproject.toml [tool.importlinter], docs/architecture.md) on ./src
lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests scripts benchmarks examples
	$(BIN)/ruff format --check src tests scripts benchmarks examples
	PYTHONPATH=src $(BIN)/lint-imports --no-logo

# The long profile of the property-based fault-accounting tests (docs/faults.md reports its counts)
test-long: $(DEV_STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q -s tests/sim/test_fault_accounting.py

# Sweep scaling on this machine's cores (docs/scale.md, docs/benchmarks.md)
bench-sweep: $(STAMP)
	$(BIN)/python benchmarks/bench_sweep.py --runs 8 --hours 168

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The fuzz suites (tests/fuzz, docs/fuzzing.md) with the long Hypothesis profile: ten times the cases `make test` tries;
# writes the cases tried per reader and how they ended to out/fuzz-long.json.
fuzz-long: $(DEV_STAMP)
	mkdir -p out
	HYPOTHESIS_PROFILE=long WATTBIT_FUZZ_REPORT=out/fuzz-long.json $(BIN)/python -m pytest -q tests/fuzz

# Engine benchmarks (docs/benchmarks.md, "Simulation engine"): japan-2022 year and the 10-site, 1M-job fleet; and
# the same year side by side with Vessim, installed into its own virtualenv (never a wattbit dependency).
PEER_VENV ?= /tmp/peer-venv

bench-engine: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

# RL environment steps per second (docs/benchmarks.md, "RL environment and engine step"): reference, lean, batches.
bench-rl: $(STAMP)
	$(BIN)/python benchmarks/bench_rl.py

# Operations benchmarks (docs/benchmarks.md, "Operations"): render of 100,000 GPUs, detector throughput.
bench-ops: $(STAMP)
	$(BIN)/python benchmarks/bench_ops.py

bench-peer: $(STAMP)
	$(BIN)/python benchmarks/bench_peer.py --peer-venv $(PEER_VENV)

# The planner's capacity programme and PyPSA on the same single-site co-sizing year (PyPSA in its own virtualenv).
PYPSA_VENV ?= /tmp/peer-pypsa

bench-pypsa: $(STAMP)
	$(BIN)/python benchmarks/bench_pypsa.py --peer-venv $(PYPSA_VENV)
	$(BIN)/python benchmarks/bench_pypsa.py --peer-venv $(PYPSA_VENV) --site tomakomai --battery-cost-scale 0.15

# Regenerate the embedded demo extract from ../shared/data (needs the shared data folder beside the project).
demo-data: $(STAMP)
	$(BIN)/python scripts/build_demo_data.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
