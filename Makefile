# Two commands on a fresh Debian/Ubuntu machine:
#   make demo   — install and run the main job
#   make test   — install and run every test and quality gate
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact versions, with hashes, of everything the tests and the demo use: a fresh clone installs
# what CI tested. `make lock` refreshes them; `make test-latest` tries the newest releases.
LOCK   := requirements/dev.lock
PIP    := 26.3
UV_COMPILE = $(BIN)/uv pip compile --python-version 3.11 --generate-hashes --upgrade --quiet

.PHONY: demo test lint typecheck unit fuzz bench clean lock test-latest

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ required"; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q 'pip==$(PIP)'
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve both lock files to the newest releases pyproject.toml allows (needs the network).
lock: $(STAMP)
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra dev --extra sim --extra postgres -o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml --extra sim --extra postgres -o requirements/runtime.lock

# The suite against the newest releases (not the lock): drift shows here before it bites.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install -q --upgrade pip
	.venv-latest/bin/pip install -q --upgrade --upgrade-strategy eager -e '.[dev,sim,postgres]'
	.venv-latest/bin/pip list --format=freeze > .venv-latest/versions.txt
	touch .venv-latest/.installed
	$(MAKE) test VENV=.venv-latest

# The main job: the simulated 9-point Bắc Ninh rig, a drill, a bring-up, then live status
# (Ctrl-C tears down). DEMO_ARGS=--once exits after the bring-up with its exit code.
demo: $(STAMP)
	$(BIN)/mcu-control demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict .

unit: $(STAMP)
	bash scripts/system-deps.sh chromium weasyprint
	$(BIN)/pytest -q

test: lint typecheck unit

# Quick benchmark sizes (9 and 100 points); the 1000-point runs are in docs/performance.md.
bench: $(STAMP)
	$(BIN)/python bench/cli_startup.py --runs 5
	$(BIN)/python bench/status_daemon.py --runs 10
	$(BIN)/python bench/bringup.py --points 9 --runs 3
	$(BIN)/python bench/bringup.py --points 100 --runs 3
	$(BIN)/python bench/drill.py --points 9 --runs 3
	$(BIN)/python bench/drill.py --points 100 --runs 3
	$(BIN)/python bench/mqtt.py --points 100 --changes 2000 --runs 3

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -m fuzz tests

clean:
	rm -rf $(VENV) .venv-latest .mypy_cache .ruff_cache .pytest_cache
