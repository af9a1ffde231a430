# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint migrations openapi rules-schema bench-board bench-ingest bench-triggers clean

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing Funnelbox with its dependencies (a minute or two the first time)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]"
	touch $(STAMP)

# A stable secret for stored channel credentials, made once per checkout and kept in .env.
.env:
	$(BIN)/python -c "import secrets; print('FUNNELBOX_SECRET_KEY=' + secrets.token_urlsafe(32))" > .env

run: $(STAMP) .env
	$(BIN)/funnelbox migrate
	$(BIN)/funnelbox bootstrap
	$(BIN)/funnelbox serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Write a migration after changing models (review the generated file before committing).
migrations: $(STAMP)
	$(BIN)/tortoise makemigrations

openapi: $(STAMP)
	$(BIN)/funnelbox openapi > web/openapi.json

# The rule language's JSON Schema for editors, generated from its grammar (triggers/rules/grammar.py).
rules-schema: $(STAMP)
	$(BIN)/python -m triggers.rules

# Benchmarks want PostgreSQL; see the README's Performance section for the figures.
bench-board: $(STAMP)
	$(BIN)/python bench/board.py --deals 1000000

bench-ingest: $(STAMP)
	$(BIN)/python bench/ingest.py --deliveries 5000 --concurrency 32

bench-triggers: $(STAMP)
	$(BIN)/python bench/triggers.py --moves 1000 --chats 200 --delayed 20

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
