# Two commands on a fresh Debian/Ubuntu machine:
#   make demo   — install and run the main job
#   make test   — install and run every test and quality gate
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit fuzz bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ required"; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

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
	$(BIN)/python bench/bringup.py --points 9 --runs 3
	$(BIN)/python bench/bringup.py --points 100 --runs 3
	$(BIN)/python bench/drill.py --points 9 --runs 3
	$(BIN)/python bench/drill.py --points 100 --runs 3
	$(BIN)/python bench/mqtt.py --points 100 --changes 2000 --runs 3

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -m fuzz tests

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
