# rleseg: `make demo` and `make test` work on a fresh machine with Python 3.10+, git and make.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY := .venv/bin/python
SYNC_STAMP := .venv/.synced

.PHONY: setup demo test test-all bench lint clean

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

$(SYNC_STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $(SYNC_STAMP)

setup: $(SYNC_STAMP)

demo: setup
	$(PY) -m rleseg.cli demo

test: setup
	$(PY) -m pytest -q -n 2

test-all: setup
	$(PY) -m pytest -q -n 2 -m "slow or not slow"

bench: setup
	$(PY) -m benchmarks.run_all

lint: setup
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks
	$(PY) -m mypy

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis results benchmarks/results
