# Quorum: `make run` serves the demo, `make test` runs the whole suite (both from a fresh clone).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# links in emails point at the server `make run` starts, unless BASE_URL says otherwise
export BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test test-quick lint format bench bench-quick system-deps clean translations translations-extract translations-update

# The catalogs: translations/<lang>/LC_MESSAGES/messages.po under version control, each compiled to its .mo here
# (README, "Languages"). pybabel reads its options from pyproject.toml ([tool.babel.*]).
CATALOGS := $(wildcard translations/*/LC_MESSAGES/messages.po)

$(BIN)/flask: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: Quorum needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

translations: $(CATALOGS:.po=.mo)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(BIN)/flask
	$(BIN)/pybabel -q compile -l $* -i $< -o $@

# every string in app/ and templates/ into translations/messages.pot
translations-extract: $(BIN)/flask
	$(BIN)/pybabel -q extract

# the .pot's strings into every catalog (new ones empty, obsolete ones dropped), then compiled
translations-update: translations-extract
	$(BIN)/pybabel -q update
	$(MAKE) translations

run: $(BIN)/flask translations
	$(FLASK) db upgrade
	$(FLASK) demo seed
	@echo "Quorum: http://$(HOST):$(PORT)/i/reclaim-your-face  (mail goes to instance/mail/ unless SMTP_URL is set)"
	@trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(FLASK) mail send --loop & worker=$$!; \
	  $(FLASK) run --host $(HOST) --port $(PORT)

# The PostgreSQL 15 server and Chromium come from the machine's Debian packages.
system-deps:
	@bash scripts/system-deps

test: $(BIN)/flask system-deps translations
	$(BIN)/pytest -p no:cacheprovider

test-quick: $(BIN)/flask translations
	$(BIN)/pytest -p no:cacheprovider -m "not slow"

lint: $(BIN)/flask
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/flask
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Issue 10's figures as one table (about 30 minutes, most of it seeding a million statements, a million audit
# entries and a million statements to export; bench-quick: one short run of each, about 5)
bench: $(BIN)/flask system-deps
	$(BIN)/python -m bench

bench-quick: $(BIN)/flask system-deps
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
