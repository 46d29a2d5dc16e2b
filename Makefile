# Two commands: `make run` and `make test`. Both need only python3 (3.11+), pip and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

JS_READERS := tests/js/node_modules/.package-lock.json

.PHONY: run test lint clean js-readers bench bench-pg

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/tracker db upgrade
	$(BIN)/tracker demo
	exec $(BIN)/tracker serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The calendar readers (ical.js, node-ical) the feed tests run; without npm those tests skip.
$(JS_READERS): tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund
	touch $(JS_READERS)

js-readers:
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "npm not found: the tests that read feeds with ical.js and node-ical will skip"; \
	elif ! $(MAKE) --no-print-directory $(JS_READERS); then \
		echo "npm ci failed: the tests that read feeds with ical.js and node-ical will skip"; fi

test: lint js-readers
	$(BIN)/pytest

# Benchmarks: each prints its figures beside a baseline measured in the same run (bench/RESULTS.md).
# bench-pg needs PostgreSQL at 127.0.0.1:5432 (user postgres); the older scripts' --pg runs
# SQLite as well.
BENCHES := bench/join_storm.py bench/finalisation.py bench/programme.py bench/personal_feed.py bench/certificates.py bench/import_physicians.py bench/memory.py bench/statements.py bench/organiser_pages.py

bench: $(STAMP)
	@for script in $(BENCHES); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-pg: $(STAMP)
	@for script in $(BENCHES); do echo "== $$script --pg"; $(BIN)/python $$script --pg || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache tests/js/node_modules
