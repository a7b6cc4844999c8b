# Two-command set-up: `make demo` and `make test` each bootstrap .venv from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SITE   ?= site_configs/putian_hitech
OUT    ?= out/demo

.PHONY: demo test test-fast lint bench venv clean help

help:
	@echo "make demo   - run the product's main job on the bundled reference park"
	@echo "make test   - ruff + the whole pytest suite"
	@echo "make test-fast - ruff + the tests not marked slow (inner loop)"
	@echo "make bench  - benchmarks (results in docs/performance.md)"

venv: $(STAMP)

# Re-created when pyproject.toml changes; editable install with the dev extras.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,iec104]'
	@touch $(STAMP)

DAY    ?= 2026-07-15
SPEED  ?= 500
PORT   ?= 8765
UNTIL  ?= 1d
# pytest-xdist workers for `make test` / `make test-fast` (auto = one per core; 0 = in this process)
WORKERS ?= auto

# Validate the reference park, plan one July weekday with the AC network check, then run simulator +
# controller (+ API and dashboard on loopback, dev mode) in closed loop for one simulated day.
demo: $(STAMP)
	$(VENV)/bin/microgrid validate $(SITE)
	$(VENV)/bin/microgrid optimize $(SITE) --day $(DAY) --out $(OUT)
	MICROGRID_DEV=1 $(VENV)/bin/microgrid run $(SITE) --sim --speed $(SPEED) --cycle-s 10 --until $(UNTIL) \
		--start $(DAY) --auto-ports --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) lint
	@scripts/ensure-chromium.sh
	@scripts/ensure-cjk-font.sh
	@scripts/ensure-debian-tools.sh socat mbpoll
	@scripts/ensure-postgresql.sh
	$(VENV)/bin/pytest -q -n $(WORKERS) --durations=15

test-fast: $(STAMP) lint
	@scripts/ensure-cjk-font.sh
	@scripts/ensure-postgresql.sh
	$(VENV)/bin/pytest -q -n $(WORKERS) -m "not slow"

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache *.egg-info
