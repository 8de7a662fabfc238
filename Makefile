# perfhub — `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test install dev lint bench bench-readiness bench-latency bench-pipeline bench-apple bench-link clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "perfhub needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

run: install
	$(BIN)/perfhub db upgrade
	$(BIN)/perfhub demo --if-missing --url "$${PERFHUB_BASE_URL:-http://127.0.0.1:$(PORT)}"
	$(BIN)/perfhub serve --port $(PORT)

test: dev
	$(BIN)/python -m pytest

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: bench-readiness bench-latency bench-pipeline bench-apple bench-link

bench-readiness: dev
	$(BIN)/python bench/bench_readiness.py

bench-latency: dev
	$(BIN)/python bench/bench_ingest_latency.py

bench-pipeline: dev
	$(BIN)/python bench/bench_pipeline.py

bench-apple: dev
	$(BIN)/python bench/bench_apple_import.py

bench-link: dev
	$(BIN)/python bench/bench_link_backfill.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
