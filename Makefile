# The two commands: `make run` (the stack on SQLite with demo data) and `make test`.
# Both install what they need on a machine that has only Python 3.11+ and make.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --frozen --no-sync
PACKAGES := shared/pyproject.toml $(wildcard services/*/pyproject.toml) $(wildcard gateway/pyproject.toml) $(wildcard cli/pyproject.toml)

.DEFAULT_GOAL := help
.PHONY: help install run test lint check-packages format bench fuzz clean up down

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml $(PACKAGES)
	$(UV) sync --all-packages --frozen --quiet
	@touch $@

install: .venv/.synced  ## Install every package and the dev tools into .venv

run: install  ## Start the stack on SQLite (under var/) with demo data
	$(RUN) crm run

test: install  ## Run the whole suite on SQLite and PostgreSQL
	$(RUN) pytest -n 2 --dist loadgroup

lint: install  ## ruff, mypy and the import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy shared/src services/customer/src services/orders/src services/analytics/src \
		services/recommend/src gateway/src cli/src
	$(RUN) lint-imports

# Each package alone, with only the dependencies it declares: a missing one fails here
# instead of hiding in the shared environment.
ISOLATED := crm-shared:crm_shared.app crm-customer:crm_customer.main crm-orders:crm_orders.main \
	crm-analytics:crm_analytics.main crm-recommend:crm_recommend.main crm-gateway:crm_gateway \
	crm-cli:crm_cli.main

check-packages: $(UV)  ## Import every package in an environment of its own
	@for spec in $(ISOLATED); do \
		echo "$${spec%%:*} alone: import $${spec#*:}"; \
		$(UV) run --isolated --frozen --no-dev --quiet --package "$${spec%%:*}" \
			python -c "import $${spec#*:}" || exit 1; \
	done

format: install  ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: install  ## Benchmarks; results to bench/results/ and docs/benchmarks.md
	$(RUN) python -m bench

FUZZ_EXAMPLES ?= 200

fuzz: install  ## Fuzz every service's and the gateway's API (FUZZ_EXAMPLES per operation)
	CRM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CRM_FUZZ_RANDOM=1 $(RUN) pytest tests/reliability/test_fuzz.py -n 2 --dist load -q

clean:  ## Remove the environments and local data
	rm -rf .venv $(TOOLS) var

up:  ## The full stack on PostgreSQL with docker compose (needs .env, see .env.example)
	docker compose up --build -d

down:  ## Stop the docker compose stack (volumes are kept)
	docker compose down
