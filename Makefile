# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.9.30
# uv from PATH when it is the pinned version, else installed with pip into the user site.
UV := $(shell command -v uv 2>/dev/null)
INFRA := deploy/local/infra.sh
WITH_INFRA := deploy/local/with-infra.sh
SUITE := deploy/local/suite.sh
CONSOLE := frontend/console
PYTEST_ARGS ?=

.PHONY: help install run up down test lint format schemas migrate status bench console browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## install uv (pinned) and the locked dependencies into .venv
	@if ! uv --version 2>/dev/null | grep -q "uv $(UV_VERSION)"; then \
	  echo "installing uv $(UV_VERSION) with pip"; \
	  python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
	fi
	uv sync --frozen --all-packages

console: ## install the console's npm packages and build it (fast when nothing changed)
	@cd $(CONSOLE) && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; \
	fi
	@cd $(CONSOLE) && if [ ! -f dist/index.html ] || [ -n "$$(find src index.html vite.config.ts tsconfig.json package-lock.json -newer dist/index.html -print -quit)" ]; then \
	  npm run build; \
	else echo "console: dist is up to date"; fi

browser: ## Debian's Chromium (and CJK fonts for the screenshots) for the browser tests
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; \
	fi

run: install console ## run the whole suite in the foreground (Ctrl-C stops everything it started)
	$(WITH_INFRA) $(SUITE) foreground

up: install console ## start infrastructure and services in the background
	$(INFRA) start
	eval "$$($(INFRA) env)" && $(SUITE) background

down: ## stop what `make up` started
	$(SUITE) stop
	$(INFRA) stop

status: ## show what runs
	-$(SUITE) status
	-$(INFRA) status

migrate: install ## apply every service's migrations to the servers in the environment
	$(WITH_INFRA) bash -c 'for s in petitions-api targets-api notifier; do uv run --frozen alembic -c services/$$s/alembic.ini upgrade head; done'

test: install lint console browser ## lint, start the infrastructure, run every test, stop what it started
	cd $(CONSOLE) && npm test
	$(WITH_INFRA) uv run --frozen pytest $(PYTEST_ARGS)

lint: install console ## ruff (lint + format check), mypy on libs/common, import contracts, vue-tsc
	uv run --frozen ruff check .
	uv run --frozen ruff format --check .
	uv run --frozen mypy
	uv run --frozen lint-imports --no-cache --no-logo
	cd $(CONSOLE) && npm run typecheck

format: install ## apply ruff's fixes and formatting
	uv run --frozen ruff check --fix .
	uv run --frozen ruff format .

bench: install ## benchmarks, each against a floor measured in the same run (BENCH_SCALE=0.1: quick); bench/README.md
	$(WITH_INFRA) uv run --frozen python -m bench

schemas: install ## re-export the event contracts (JSON Schema + AsyncAPI) to libs/common/schemas
	uv run --frozen python -m gov_common.events.export libs/common/schemas
