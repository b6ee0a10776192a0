# Kravflyt: every target sets up what it needs first, so a fresh clone needs nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3
UV := $(PY) -m uv
VENV := .venv
BIN := $(VENV)/bin
PG_VERSION := $(shell ls /etc/postgresql 2>/dev/null | head -n1)
export KRAVFLYT_TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: help setup system-deps pg test demo bench lint reliability clean messages

help:
	@echo "make demo         set up, then run the whole flow end to end on SQLite and the sandboxes"
	@echo "make test         set up, then run lint, type checks and the full test suite (SQLite and PostgreSQL)"
	@echo "make bench        run the benchmarks and print their ratios"
	@echo "make lint         ruff, mypy and the import contracts between the layers"
	@echo "make messages     collect text for people from code and pages into the bokmål catalogue, then check it"
	@echo "make reliability  fault, crash, fuzz, security and load runs; writes bench/reliability.md"

# uv comes from PyPI when missing; the venv is built from the lock file only.
$(BIN)/.synced: uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PY) -m pip install --quiet 'uv>=0.5'
	$(UV) sync --frozen --all-groups --compile-bytecode
	@touch $@

setup: $(BIN)/.synced system-deps

# Debian packages: chromium for the browser tests, poppler-utils for PDF pictures, fonts for letters.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	fi

pg:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "starting PostgreSQL $(PG_VERSION)"; \
	  pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start; \
	fi
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1

lint: $(BIN)/.synced
	$(BIN)/ruff check adapter connectors policies tests bench
	$(BIN)/ruff format --check adapter connectors policies tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: setup pg lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

demo: setup
	$(BIN)/kravflyt demo --fresh

bench: setup pg
	$(BIN)/python -m bench

reliability: setup pg
	$(BIN)/python -m bench.reliability

# The message catalogue: msgids (English) from the code and templates into the .pot, merged into
# the bokmål .po (new ones empty, to be translated there), then checked: every msgid translated.
messages: $(BIN)/.synced
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
	  -o adapter/i18n/messages.pot .
	$(BIN)/pybabel update -i adapter/i18n/messages.pot -d adapter/i18n/locale -l nb \
	  --no-fuzzy-matching --ignore-obsolete --omit-header --no-wrap
	$(BIN)/python -m adapter.i18n.check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache kravflyt.db demo-data
