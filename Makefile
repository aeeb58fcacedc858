# The two commands a new user runs: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test install install-test install-postgres browser lint clean

run: $(VENV)/.installed
	$(BIN)/threadline migrate --noinput
	$(BIN)/threadline serve

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# PostgreSQL's driver, for DATABASE_URL=postgres://...; the tests have it.
install-postgres: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[postgres]'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# The browser tests drive Debian's Chromium; Playwright's own browser download
# is not used.
browser:
	@command -v chromium >/dev/null 2>&1 || bash scripts/install-chromium

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy threadline

clean:
	rm -rf $(VENV) var
