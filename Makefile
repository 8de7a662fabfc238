# perfhub — `make run` serves the demo, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: run test install dev lint assets browser bench bench-readiness bench-latency bench-pipeline bench-apple bench-link bench-today bench-team bench-plans bench-recompute bench-overreaching clean

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

# Two workers for two cores: much of the suite waits on subprocesses, servers and the browser.
# Each worker has its own databases, NATS prefixes and live server. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2

test: dev browser
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS))

# Vendors the front-end packages into the Python package (the copies are committed; the wheel
# builds offline). Run after changing web-assets/package.json.
assets: | $(BIN)/python
	npm ci --prefix web-assets && $(BIN)/python web-assets/vendor.py

# The browser tests drive the system Chromium through Playwright and check pages with axe-core.
# Outside CI those tests skip without them, so a missing one is said, not fatal; the stamp is only
# made once both are there, so the next `make test` tries again.
browser: $(VENV)/.browser

$(VENV)/.browser: web-assets/package-lock.json | $(BIN)/python
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y --no-install-recommends chromium \
	      || { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	  else \
	    echo "browser: /usr/bin/chromium is missing, so the browser tests will skip (install it: sudo apt-get install chromium)"; \
	  fi; \
	fi
	@if command -v npm >/dev/null; then \
	  npm ci --prefix web-assets; \
	else \
	  echo "browser: npm is missing, so the accessibility checks will skip (install Node.js and npm)"; \
	fi
	@if [ -x /usr/bin/chromium ] && [ -f web-assets/node_modules/axe-core/axe.min.js ]; then touch $@; fi

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: bench-readiness bench-latency bench-pipeline bench-apple bench-link bench-today bench-team bench-plans bench-recompute bench-overreaching

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

bench-today: dev
	$(BIN)/python bench/bench_today_page.py

bench-team: dev
	$(BIN)/python bench/bench_team_table.py

bench-plans: dev
	$(BIN)/python bench/bench_plans.py

bench-recompute: dev
	$(BIN)/python bench/bench_recompute.py

bench-overreaching: dev
	$(BIN)/python bench/overreaching_bound.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
