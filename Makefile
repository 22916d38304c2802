# Trefpunt — `make run` and `make test` work on a fresh machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PO_FILES := $(wildcard events/locale/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: run test lint bench soak install install-dev migrate demo messages lock clean

run: install $(MO_FILES)
	@mkdir -p var
	$(BIN)/trefpunt migrate
	$(BIN)/trefpunt demo --if-empty
	$(BIN)/trefpunt serve

test: install-dev $(MO_FILES)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -c pyproject.toml -r events -q

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: requirements-dev.lock $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@touch $@

# Catalogs are compiled at install; the .mo files are build output, not sources.
events/locale/%/LC_MESSAGES/messages.mo: events/locale/%/LC_MESSAGES/messages.po | $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ -l $*

migrate: install
	$(BIN)/trefpunt migrate

demo: install
	$(BIN)/trefpunt demo

# Benchmarks of issue 9 (tests/bench/): SQLite and, when reachable, PostgreSQL; needs wrk.
bench: install-dev $(MO_FILES)
	$(BIN)/python -m tests.bench

# The 30-minute soak of issue 10 (not in CI): mixed traffic against a real server; memory, open
# files and p99 latency must stay flat. SOAK_MINUTES shortens it for a trial run.
soak: install-dev $(MO_FILES)
	$(BIN)/python -m tests.reliability.soak

# Extract new strings and merge them into the nl/fr/en catalogs.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o events/locale/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i events/locale/messages.pot -d events/locale --no-fuzzy-matching --ignore-obsolete

# Re-resolve exact versions after changing dependencies in pyproject.toml.
lock: install-dev
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) $(MO_FILES)
