# Scenergy admin platform. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
T ?=

help: ## Show targets
	@awk 'BEGIN{FS=":.*##"} /^[a-zA-Z0-9_.-]+:.*##/{printf "  %-16s %s\n",$$1,$$2}' $(MAKEFILE_LIST)

$(STAMP): requirements-dev.txt constraints.txt libs/common/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt
	@# Helm's library for the chart's lint and render tests; its wheel declares Python 3.12 but runs on 3.11.
	$(BIN)/pip install -q --ignore-requires-python -c constraints.txt helm-sdkpy
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install every package (editable) and the dev tools

protos: $(STAMP) ## Regenerate the gRPC stubs into libs/common/src
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=libs/common/src --pyi_out=libs/common/src \
	  --grpc_python_out=libs/common/src $$(find protos -name '*.proto' | sort)

protos-check: protos ## Fail if the committed stubs are stale
	git diff --exit-code -- libs/common/src/scenergy
	@test -z "$$(git status --porcelain -- libs/common/src/scenergy)" || { git status --porcelain -- libs/common/src/scenergy; echo "untracked generated stubs: run make protos and commit"; exit 1; }

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/src libs/devstack/src services/admin-api/src services/audit/src services/credits/src services/generation/src services/payments/src

fmt: $(STAMP) ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) ## Run the whole suite on the real PostgreSQL and RabbitMQ (see README)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not serial" $(T)
	$(BIN)/python -m pytest -m serial $(T)

test-unit: $(STAMP) ## Only the fast tests that need no server
	$(BIN)/python -m pytest -q services/*/tests/unit libs/common/tests $(T)

migrate: $(STAMP) ## Migrate every service's database (DATABASE_URL_<SERVICE> or the embedded defaults)
	$(BIN)/python -m scenergy_dev migrate

create-admin: $(STAMP) ## Add an admin: make create-admin EMAIL=… ROLE=super_admin|admin|viewer PASSWORD=…
	$(BIN)/python -m scenergy_dev create-admin

run: $(STAMP) ## Run the whole platform locally (embedded PostgreSQL and broker unless DATABASE_URL/BROKER_URL)
	$(BIN)/python -m scenergy_dev run

bench-credits: $(STAMP) ## Benchmark the credits write path against its limits
	$(BIN)/python bench/credits.py

bench-audit: $(STAMP) ## Benchmark audit ingest against a raw consumer, pages and exports at 1M entries
	$(BIN)/python bench/audit.py

bench-gateway: $(STAMP) ## Benchmark the gateway's list pages and dashboard at 100k clients, 1M transactions and audit entries
	$(BIN)/python bench/gateway.py

bench-generation: $(STAMP) ## Benchmark job throughput and enqueue latency against Celery, and the active-jobs poll at 1M jobs
	$(BIN)/python bench/generation.py

bench-payments: $(STAMP) ## Benchmark the Stripe webhook ack at 200 deliveries/s against a verify-only endpoint, and event processing
	$(BIN)/python bench/payments.py

# Container images: scenergy/<service>:$(TAG), one per service, built from the repository root.
TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
IMAGE_REPO ?= scenergy
IMAGE_SERVICES := admin-api credits audit generation payments

images: ## Build scenergy/<service>:$(TAG) for every service (TAG defaults to the git short sha; IMAGE_REPO=… to prefix a registry)
	@set -e; for s in $(IMAGE_SERVICES); do \
	  echo "building $(IMAGE_REPO)/$$s:$(TAG)"; \
	  docker build -f services/$$s/Dockerfile -t $(IMAGE_REPO)/$$s:$(TAG) \
	    --build-arg VERSION=$(TAG) \
	    --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	    --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) \
	    . ; \
	done

helm-lint: $(STAMP) ## Lint and render the Helm chart for every values file, and check its invariants
	$(BIN)/python -m pytest -q deploy/helm/tests

.PHONY: help install protos protos-check lint fmt test test-unit migrate create-admin run bench-credits bench-audit bench-gateway bench-generation bench-payments images helm-lint
