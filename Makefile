# The README's two commands: `make serve` (run the server on the embedded SQLite default) and
# `make test` (everything CI runs). Both set up the virtual environment when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATABASE ?= var/session-runtime.db

.PHONY: install serve test lint js pytest bench bench-peers reliability clean postgres chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/session-runtime serve --host $(HOST) --port $(PORT) --database $(DATABASE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/python scripts/unasync.py --check

# The tests start a throwaway PostgreSQL cluster when DATABASE_URL is not set: they need its
# server programs. On a Debian machine where we are root, install them when they are missing.
postgres:
	@if [ -z "$$DATABASE_URL" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	  else \
	    echo "PostgreSQL's server programs are needed (Debian: apt-get install postgresql)," \
	         "or set DATABASE_URL to a database the tests may use"; exit 1; \
	  fi; \
	fi

# The browser tests drive Debian's Chromium through Playwright (no browser download).
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && [ -z "$$SESSION_RUNTIME_CHROMIUM" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is needed for the browser tests (Debian: apt-get install chromium)," \
	         "or set SESSION_RUNTIME_CHROMIUM to a Chromium executable"; exit 1; \
	  fi; \
	fi

# The browser clients and the example app (npm workspaces, one lockfile): installed from the
# lockfile when node_modules is missing or older than it (npm rewrites its own copy,
# node_modules/.package-lock.json, on every install). check:types runs the server's Python to
# compare the generated TypeScript types with /openapi.json. The example's build is what the
# browser tests serve, so `make test` runs this before pytest.
node_modules/.package-lock.json: package-lock.json
	npm ci
	touch $@

js: $(STAMP) node_modules/.package-lock.json
	npm run check:types
	npm run typecheck
	npm test
	npm run build -w examples/photo-booth

pytest: $(STAMP) postgres chromium
	$(BIN)/pytest

test: lint js pytest

bench: $(STAMP) postgres
	$(BIN)/python bench/store.py
	$(BIN)/python bench/listing.py
	$(BIN)/python bench/stats.py
	$(BIN)/python bench/export.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/subscribers.py

# Side by side with PocketBase, and one node at scale (about 25 minutes). PocketBase and py-spy
# come from the bench extra, never from `make install` or `make test`.
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/peers.py
	$(BIN)/python bench/scale.py

# The reliability proofs at the issue's full counts (64 writers x 1,000 writes a store: about
# ten minutes; 2,000 offline writes over 20 sessions); `make test` runs the same tests with 150
# writes per writer and 200 offline writes.
reliability: $(STAMP) postgres
	RELIABILITY_WRITES_EACH=1000 RELIABILITY_OFFLINE_WRITES=2000 \
	  $(BIN)/pytest tests/reliability --timeout=1800

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis node_modules \
	  examples/photo-booth/dist
