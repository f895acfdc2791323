# Common verbs. `make setup` once, then `make serve` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= serving,training,clients,dev,torch
HOST ?= 127.0.0.1
PORT ?= 8000
MODEL_REPO ?= model_repo

.PHONY: setup serve test test-fast lint format benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

setup: $(BIN)/python  ## create .venv and install the project with every extra
	$(BIN)/pip install -e ".[$(EXTRAS)]"

serve: $(BIN)/python  ## serve the newest model in model_repo/ with onnxruntime on the CPU
	$(BIN)/python -m service --host $(HOST) --port $(PORT) --model-repo $(MODEL_REPO)

test: $(BIN)/python  ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: $(BIN)/python  ## skip the slow tests (training, export, end-to-end)
	$(BIN)/python -m pytest -m "not slow"

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

benchmark: $(BIN)/python  ## quick benchmarks that need no service
	$(BIN)/python benchmarks/decode_speed.py

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info
