# Parlons — everyday commands. `make run` to try it, `make test` to test it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench lock audit clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/parlons demo

test: setup
	$(BIN)/ruff check .
	@command -v chromium >/dev/null || printf '\n%s\n%s\n\n' \
		'!!!!! NO CHROMIUM: the admin browser tests (tests/browser) are SKIPPED !!!!!' \
		'!!!!! install it (apt-get install chromium) to run them                 !!!!!'
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .

# After changing dependencies in pyproject.toml: pin them all again (commit requirements.lock).
lock: setup
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

# Known vulnerabilities in the pinned dependencies (needs a vulnerability database online).
audit: setup
	$(BIN)/pip-audit --requirement requirements.lock --no-deps --disable-pip --strict

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache
