# PayWarden. `make run` and `make test` are the two commands a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
# Test processes per database run (pytest-xdist), each with its own database: one more than
# the cores, as every worker spends part of its time waiting on the database or a subprocess.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

.PHONY: run test test-sqlite test-postgres lint format bench soak install services browser clean i18n screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list or its constraints change.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(BIN)/python -c "import sys; from paywarden.console.i18n import main; sys.exit(main(['compile']))"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/paywarden migrate
	@echo
	@echo "PayWarden is starting on http://127.0.0.1:8000 (the API, and the worker as its child process)"
	@echo "Next: the five-minute tour in README.md (the log prints the first commands to paste)"
	@echo
	$(BIN)/paywarden serve

services:
	@scripts/ensure-services.sh

# Debian's Chromium for the browser tests (tests/e2e), installed only when missing.
browser:
	@scripts/ensure-chromium.sh

# Stock TronWeb for tests/tron/test_devnet_tronweb.py: `npm ci` when node_modules is missing or
# older than the lock file; without Node those tests skip.
TRONWEB_DIR := tests/tron/tronweb
.PHONY: tronweb
tronweb:
	@if ! command -v node >/dev/null; then \
		echo "node is not on PATH: the TronWeb tests ($(TRONWEB_DIR)) will be skipped"; \
	elif [ ! -d $(TRONWEB_DIR)/node_modules ] || [ $(TRONWEB_DIR)/package-lock.json -nt $(TRONWEB_DIR)/node_modules ]; then \
		npm ci --prefix $(TRONWEB_DIR) --no-audit --no-fund && touch $(TRONWEB_DIR)/node_modules; \
	fi

test: install services browser tronweb test-sqlite test-postgres

test-sqlite: install
	TEST_DATABASE_URL=sqlite $(PYTEST) $(PYTEST_ARGS)

test-postgres: install services
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(PYTEST) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install services
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	@for b in bench/*.py; do [ "$$b" = bench/soak.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "(the soak runs alone: make soak)"

# The whole platform (2 replicas behind a proxy, 2 workers, the devnet, the sandbox issuer) under
# mixed load with processes SIGKILLed, then the drain and `paywarden reconcile` (bench/soak.py).
# Exit 1 when the bar is missed. CI: `make soak SOAK_MINUTES=2`.
SOAK_MINUTES ?= 10
soak: install services
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

# The catalogs of both UIs: extract every string (Python and templates under paywarden/console and
# paywarden/clientapp) into locale/messages.pot, merge it into each language's .po, compile the
# .mo files, and list the strings still without a Russian translation (in locale/ru/LC_MESSAGES).
i18n: install
	$(BIN)/python -c "import sys; from paywarden.console.i18n import main; sys.exit(main(['update']))"

# Every console page at 390 px and 1440 px, and every tab of the client app at 390 px, into
# docs/screenshots/ (a fresh SQLite app, seeded).
screenshots: install browser
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
