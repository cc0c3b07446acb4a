# espace-santé — two commands on a fresh machine: `make run` and `make test`.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
export ESPACE_DATA_DIR ?= ./var

# Debian packages the tests talk to (real clients and peers; Chromium for the browser tests,
# driven by Playwright through executable_path: Playwright's own browser download is not used).
TEST_DEBS = swaks dovecot-imapd postfix isync curl mutt chromium
TEST_CMDS = swaks dovecot postfix mbsync curl mutt chromium
# pytest-xdist workers: three on these 2-core machines (many tests wait on sockets and subprocesses)
TEST_WORKERS ?= 3

.PHONY: run install install-test system-deps init demo serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Install, initialise the embedded default (SQLite, local blobs, development CA), seed demo
## data and start every listener in the foreground.
run: install
	$(BIN)/espace-sante init
	$(BIN)/espace-sante demo
	$(BIN)/espace-sante serve

init: install
	$(BIN)/espace-sante init

demo: install
	$(BIN)/espace-sante demo

serve: install
	$(BIN)/espace-sante serve

system-deps:
	@missing=""; for c in $(TEST_CMDS); do command -v $$c >/dev/null 2>&1 || \
	  [ -x /usr/sbin/$$c ] || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for the tests:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TEST_DEBS) >/dev/null; \
	fi

## Install what the tests need and run the whole suite, on SQLite and on PostgreSQL.
test: install-test system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15 -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	PYTHONPATH=src $(BIN)/lint-imports

bench: install-test system-deps
	$(BIN)/python bench/smtp_inbound.py $(BENCH_ARGS)
	$(BIN)/python bench/imap_load.py
	$(BIN)/python bench/web_load.py
	$(BIN)/python bench/directory_import.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
