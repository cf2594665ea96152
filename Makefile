# The README's two commands: `make run` starts the product, `make test` proves it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The services the second test pass runs against; `make test` skips that pass when
# they are not reachable, unless REQUIRE_SERVICES=1 (CI) makes their absence fail.
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/interactions
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: install run test lint typecheck bench security badinput clean \
	load faults load-short faults-short stack-short

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The task pane's packages (Office.js, MSAL.js), served from here in the demo and tests.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/python -m web.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest
	@if $(BIN)/python -m tests.services "$(TEST_DATABASE_URL)" "$(TEST_BROKER_URL)"; then \
		echo "== again on PostgreSQL and Redis"; \
		DATABASE_URL="$(TEST_DATABASE_URL)" CELERY_BROKER_URL="$(TEST_BROKER_URL)" \
			$(BIN)/python -m pytest && \
		echo "== the load and fault suites, short" && \
		$(MAKE) --no-print-directory stack-short; \
	elif [ "$(REQUIRE_SERVICES)" = 1 ]; then \
		echo "PostgreSQL and Redis are required (REQUIRE_SERVICES=1)"; exit 1; \
	else \
		echo "== PostgreSQL or Redis not reachable: their pass is skipped"; \
	fi

# The suites of attack and bad input, each with its report of what it tried and what
# held; both are also part of `make test`.
security badinput: install
	$(BIN)/python -m pytest -m $@ -p tests.summary -q

# The load and fault suites, each on a stack of its own (tests/stack): private
# PostgreSQL and Redis, the simulator, gunicorn, Celery workers and beat. `make load`
# and `make faults` run the issue's durations; the short runs share one stack, and
# `make test` runs them after the PostgreSQL and Redis pass.
faults load: install
	STACK_SUITE=full REQUIRE_SERVICES=$(REQUIRE_SERVICES) \
		$(BIN)/python -m pytest tests/$@ -p tests.summary -q

faults-short load-short: install
	REQUIRE_SERVICES=$(REQUIRE_SERVICES) \
		$(BIN)/python -m pytest tests/$(@:-short=) -p tests.summary -q

stack-short: install
	REQUIRE_SERVICES=$(REQUIRE_SERVICES) \
		$(BIN)/python -m pytest tests/load tests/faults -p tests.summary -q

# Every benchmark, each printing its JSON into build/bench and drawing its figure for
# the report in docs/benchmarks.md.
BENCHMARKS := grid capture resend

bench: install
	mkdir -p build/bench
	for name in $(BENCHMARKS); do \
		$(BIN)/python -m bench.$$name --plot docs/img/bench-$$name.png \
			> build/bench/$$name.json || exit 1; \
	done
	$(BIN)/python -m bench.resend --resends 80 --mailboxes 2 --workers 16 \
		--plot docs/img/bench-resend-busy.png > build/bench/resend-busy.json

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
