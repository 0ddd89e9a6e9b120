# The two commands: `make run` (console on demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run api test lint notebooks bench clean

## make run: create .venv, install the app, create demo data if the database is empty, start the console
run: $(VENV)/.app-installed
	$(BIN)/kaiten demo --if-empty
	$(BIN)/kaiten console

## make api: the REST API on the same database (demo data if empty) at http://127.0.0.1:8000
api: $(VENV)/.app-installed
	$(BIN)/kaiten demo --if-empty
	$(BIN)/kaiten api

## make test: create .venv, install everything the tests need (Chromium too when root), lint, run the suite
test: $(VENV)/.test-installed
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .

## make notebooks: install the notebook extras and start Jupyter on the demo database
notebooks: $(VENV)/.notebooks-installed
	$(BIN)/kaiten demo --if-empty
	KAITEN_DATABASE_URL=$${KAITEN_DATABASE_URL:-sqlite:///$(CURDIR)/kaiten.db} $(BIN)/jupyter lab notebooks/

bench: $(VENV)/.test-installed
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/analytics.py
	$(BIN)/python benchmarks/console.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app-installed: $(VENV)/bin/python pyproject.toml requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/bin/python pyproject.toml requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt -e ".[test]"
	touch $@ $(VENV)/.app-installed

$(VENV)/.notebooks-installed: $(VENV)/bin/python pyproject.toml requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt -e ".[notebooks]"
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
