# Common verbs. `make serve` and `make test` install what they need into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ALL_EXTRAS := serving,training,clients,dev,torch
SERVE_EXTRAS := serving,clients
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL_REPO ?= model_repo
CHROMIUM := /usr/bin/chromium

.PHONY: setup serve test test-fast lint format benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per set of extras, remade when pyproject.toml changes.
$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e ".[$*]"
	touch $@

# kserve's REST client, for the Open Inference Protocol tests. kserve pins protobuf < 7 and MindSpore 2.10
# needs >= 7.34, so it goes in without its dependencies; the dev extra lists those its client imports.
KSERVE := kserve==0.21.0
$(VENV)/.installed-kserve: $(VENV)/.installed-$(ALL_EXTRAS)
	$(BIN)/pip install --no-deps "$(KSERVE)"
	touch $@

setup: $(VENV)/.installed-$(ALL_EXTRAS)  ## everything: serving, training, clients, dev tools

serve: $(VENV)/.installed-$(SERVE_EXTRAS)  ## serve model_repo/ on the CPU, each version on its fastest runtime
	$(BIN)/python -m service --host $(HOST) --port $(PORT) --model-repo $(MODEL_REPO)

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work here). As root
# (CI), install it when it is missing; otherwise say how, and the browser tests skip.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "no $(CHROMIUM): 'sudo apt-get install chromium' to run the browser tests (skipped without it)"; \
	fi

test: $(VENV)/.installed-$(ALL_EXTRAS) $(VENV)/.installed-kserve | $(CHROMIUM)  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed-$(ALL_EXTRAS) $(VENV)/.installed-kserve  ## skip the slow tests (training, export, end-to-end)
	$(BIN)/python -m pytest -m "not slow"

lint: $(VENV)/.installed-$(ALL_EXTRAS)  ## ruff, and mypy on the folders pyproject.toml lists
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed-$(ALL_EXTRAS)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

benchmark: $(VENV)/.installed-$(ALL_EXTRAS)  ## quick benchmarks that need no running service
	$(BIN)/python benchmarks/decode_speed.py

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info
