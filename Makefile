# The two commands: `make run` (service on the embedded default) and `make test`
# (the whole suite). Both install what they need first; nothing else is assumed
# but Debian with Python 3.11.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install system-deps lint typecheck importcheck unit bench clean

$(STAMP): pyproject.toml
	bash scripts/ensure-python.sh "$(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

# The console's front-end libraries (Leaflet) from the npm registry, exactly as locked in
# package-lock.json; served by Tocsin from node_modules, never from a CDN at run time.
NODE_STAMP := node_modules/.package-lock.json

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq npm; }; then \
		npm ci --no-audit --no-fund && touch $@; \
	else \
		echo "warning: npm is not installed (apt-get install npm): the operator console runs without its map"; \
	fi

install: $(STAMP) $(NODE_STAMP)

run: install
	$(BIN)/tocsin serve --demo

system-deps:
	bash scripts/system-deps.sh

lint: install
	$(BIN)/ruff check router channels cap_profiles tests bench scripts

typecheck: install
	$(BIN)/mypy

importcheck: install
	$(BIN)/lint-imports

# TOCSIN_REQUIRE_POSTGRES: the PostgreSQL half of the store contract suite fails rather
# than skips when PostgreSQL is missing (system-deps installs it first under `make test`).
# Two workers (pytest-xdist, work stealing): most of the suite waits on processes it
# started, so two run in about 60% of the time of one on two cores; each worker starts
# its own throwaway PostgreSQL. The slowest tests are listed at the end of the run.
# A plain `.venv/bin/pytest` runs in one process.
unit: install
	TOCSIN_REQUIRE_POSTGRES=1 $(BIN)/pytest -n 2 --dist worksteal --durations=15

test: install system-deps lint typecheck importcheck unit

# Every bench in turn, then one table of all their verdicts (bench/collect.py).
bench: install
	$(BIN)/python bench/collect.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
