# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-data

.PHONY: demo test lint browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

ENGINE := $(BIN)/engine --data-dir $(DEMO_DIR)/engine

demo: $(STAMP)
	$(BIN)/engine generate --out $(DEMO_DIR)/raw
	$(BIN)/engine validate $(DEMO_DIR)/raw
	$(ENGINE) ingest $(DEMO_DIR)/raw
	$(ENGINE) stats
	$(ENGINE) build-graph
	$(ENGINE) train --model gat-enhanced
	$(ENGINE) train --model gat-basic
	$(ENGINE) recommend --user user_0001 -k 3 --explain
	$(ENGINE) evaluate

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest

# The page `engine serve` shows is tested in Debian's chromium (tests/e2e/test_serve_page.py);
# without it that test is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium) >/dev/null 2>&1; } || echo "chromium could not be installed: the browser test will be skipped"

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/import_spotify.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/recommend.py
	$(BIN)/python benchmarks/lastfm_hetrec.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/message_passing.py
	$(BIN)/python benchmarks/message_passing.py --scales 1 10 100 --paired 25
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/fold_in.py
	$(BIN)/python benchmarks/backends.py
	$(BIN)/python benchmarks/context.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) bench-data
