# Leash developer tasks. Every tool comes from a virtual environment this file creates.
#   make demo   - play an agent incident on an emulated AWS account (no credentials needed)
#   make test   - the full offline test suite
#   make lint   - ruff (lint, format), mypy, the import contract, cfn-lint and sam validate --lint
#   make build  - sam build (python3.13, arm64; the layer compiled to bytecode)
#   make fuzz   - 20,000+ hostile inputs through every handler on moto (SEED=..., CASES=...)

# The first python3.13 that really runs (a pyenv shim may exist and still refuse).
PYTHON313 ?= $(shell for p in $$(command -v python3.13) $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13); do \
                "$$p" -c 'import sys' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV      := .venv
SAM_VENV  := .venv-sam
BIN       := $(VENV)/bin
SAM       := $(SAM_VENV)/bin/sam
# LocalStack's EventBridge rule engine, the oracle of the matcher's differential test; it pins its own boto3.
LOCALSTACK_VENV := .venv-localstack
# Plain `sam build` works with any python3 on PATH; with python3.13 there the layer also ships bytecode
# (layers/leash/Makefile), so make build puts this one first.
SAM_PATH  := $(dir $(PYTHON313)):$(PATH)

.PHONY: demo test lint format build patterns docs bench fuzz clean check-python

check-python:
	@test -n "$(PYTHON313)" || { echo "Leash needs Python 3.13 (the Lambda runtime). Install it, or run: make PYTHON313=/path/to/python3.13"; exit 1; }

$(BIN)/.installed: pyproject.toml layers/leash/requirements.txt | check-python
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# aws-sam-cli pins its own boto3, so it lives in its own environment.
$(SAM).installed: | check-python
	$(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli
	@touch $@

$(LOCALSTACK_VENV)/.installed: | check-python
	$(PYTHON313) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install --quiet "localstack-core[base-runtime]==2026.3.0"
	@touch $@

demo: $(BIN)/.installed
	$(BIN)/leash demo

# Tests run on every core (pytest-xdist); each worker has its own moto account.
test: $(BIN)/.installed $(LOCALSTACK_VENV)/.installed
	$(BIN)/pytest -n auto

# Mutants of every sample in events/, forged SNS messages and forged Slack requests through every handler
# on moto; prints cases and unhandled exceptions per handler, exits non-zero on any. The same SEED gives
# the same cases; each failure line says how to replay it alone. `make test` runs a seeded slice.
SEED  ?= 17
CASES ?= 20000
fuzz: $(BIN)/.installed
	$(BIN)/python tests/fuzz/run.py --seed $(SEED) --cases $(CASES)

format: $(BIN)/.installed
	$(BIN)/ruff check --fix $(PY_SOURCES)
	$(BIN)/ruff format $(PY_SOURCES)

# The catalog is the source of truth: regenerate the template's rules and the docs from it.
patterns: $(BIN)/.installed
	$(BIN)/python -m leash_build.patterns --write template.yaml

docs: $(BIN)/.installed
	$(BIN)/python -m leash_build.patterns --docs docs/catalog.md
	$(BIN)/python -m leash_build.triage --docs docs/coverage.md

PY_SOURCES := layers cli functions tests benchmarks scripts

lint: $(BIN)/.installed $(SAM).installed
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint template.yaml forwarders.yaml
	PATH="$(SAM_PATH)" $(SAM) validate --lint --region us-east-1

# --no-cached: a layer cached by a plain `sam build` without python3.13 would come back without bytecode.
build: $(SAM).installed
	PATH="$(SAM_PATH)" $(SAM) build --parallel --no-cached

bench: $(BIN)/.installed $(LOCALSTACK_VENV)/.installed
	$(BIN)/python benchmarks/coldstart.py
	$(BIN)/python benchmarks/reapply.py
	$(BIN)/python benchmarks/spikes.py
	$(BIN)/python benchmarks/replay.py 200000 typical
	$(BIN)/python benchmarks/replay.py 200000 stress
	$(BIN)/python benchmarks/matcher.py
	$(BIN)/python benchmarks/reconcile.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(LOCALSTACK_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
