# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint migrations openapi rules-schema vendor messages screenshots browser bench-board bench-pages bench-inbox bench-deal-page bench-ingest bench-ingest-burst bench-triggers bench-altegio bench-storm clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing Funnelbox with its dependencies (a minute or two the first time)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]"
	touch $(STAMP)

# A stable secret for stored channel credentials, made once per checkout and kept in .env.
.env:
	$(BIN)/python -c "import secrets; print('FUNNELBOX_SECRET_KEY=' + secrets.token_urlsafe(32))" > .env

# An empty database filled with a made-up salon (sign in as owner@example.com), then served.
demo: $(STAMP) .env
	$(BIN)/funnelbox demo
	$(BIN)/funnelbox serve

run: $(STAMP) .env
	$(BIN)/funnelbox migrate
	$(BIN)/funnelbox bootstrap
	$(BIN)/funnelbox serve

# The page tests drive Debian's Chromium (never a browser downloaded by Playwright).
browser:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# Most tests wait on sockets, browsers and child processes rather than compute: three
# pytest-xdist workers (each with its own databases) fill two cores. TEST_WORKERS=0: one.
TEST_WORKERS ?= 3
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# Write a migration after changing models (review the generated file before committing).
migrations: $(STAMP)
	$(BIN)/tortoise makemigrations

openapi: $(STAMP)
	$(BIN)/funnelbox openapi > web/openapi.json

# The rule language's JSON Schema for editors, generated from its grammar (triggers/rules/grammar.py).
rules-schema: $(STAMP)
	$(BIN)/python -m triggers.rules

# Third-party browser files, pinned in package-lock.json, copied next to our own and
# committed: `make run` needs neither Node nor the network. Run after changing package.json.
VENDOR := web/static/vendor
vendor:
	npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/htmx.org/LICENSE $(VENDOR)/htmx.LICENSE
	cp node_modules/sortablejs/Sortable.min.js $(VENDOR)/sortable.min.js
	cp node_modules/sortablejs/LICENSE $(VENDOR)/sortable.LICENSE
	cp node_modules/uplot/dist/uPlot.iife.min.js $(VENDOR)/uplot.min.js
	cp node_modules/uplot/dist/uPlot.min.css $(VENDOR)/uplot.min.css
	cp node_modules/uplot/LICENSE $(VENDOR)/uplot.LICENSE

# Extract every UI string to the template catalog, merge it into each language, compile.
CATALOGS := web/translations
messages: $(STAMP)
	$(BIN)/pybabel extract --no-location -F babel.cfg -o $(CATALOGS)/messages.pot .
	$(BIN)/pybabel update -i $(CATALOGS)/messages.pot -d $(CATALOGS)
	$(BIN)/pybabel compile -d $(CATALOGS)

# PNGs of every page at 1280 and 390 px in docs/, from a demo database it fills once.
SCREENSHOT_DB ?= sqlite://screenshots.sqlite3
screenshots: $(STAMP) browser
	$(BIN)/python -m scripts.screenshots --database $(SCREENSHOT_DB) --out docs

# Benchmarks want PostgreSQL; see the README's Performance section for the figures.
bench-board: $(STAMP)
	$(BIN)/python bench/board.py --deals 1000000

bench-pages: $(STAMP)
	$(BIN)/python bench/pages.py --deals 100000

bench-inbox: $(STAMP)
	$(BIN)/python bench/inbox.py --dialogs 100000 --messages 1000000

bench-deal-page: $(STAMP)
	$(BIN)/python bench/deal_page.py --deals 100000

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py --deliveries 5000 --concurrency 32

# issue 11's targets: a sustained 200 deliveries/s for 60 s, then a burst of 13,000
bench-ingest-burst: $(STAMP)
	$(BIN)/python bench/ingest.py --rate 200 --seconds 60 --concurrency 50 --pool 20
	$(BIN)/python bench/ingest.py --burst 13000 --concurrency 50 --pool 20

bench-altegio: $(STAMP)
	$(BIN)/python bench/altegio_sync.py --records 10000

bench-triggers: $(STAMP)
	$(BIN)/python bench/triggers.py --moves 1000 --chats 200 --delayed 20

# 10,000 messages from 500 customers, 30% sent twice, shuffled, 50 at a time, checked.
bench-storm: $(STAMP)
	$(BIN)/python bench/storm.py --deliveries 10000 --customers 250 --concurrency 50

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
