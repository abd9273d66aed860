# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-data

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/engine generate --out $(DEMO_DIR)/raw
	$(BIN)/engine validate $(DEMO_DIR)/raw
	$(BIN)/engine --data-dir $(DEMO_DIR)/engine ingest $(DEMO_DIR)/raw
	$(BIN)/engine --data-dir $(DEMO_DIR)/engine stats

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/train.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) bench-data
