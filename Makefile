# Two commands set everything up on a fresh machine with only Python 3.11+:
#   make demo   — create .venv, install, build the evidence store from ../shared/data
#   make test   — create .venv, install, lint, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: install install-embed install-browser demo test lint bench bench-embed clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The optional [embed] extra: torch's CPU wheel from its own index (PyPI's pulls CUDA).
install-embed: install
	$(BIN)/python -m pip install --quiet -c constraints.txt \
		--extra-index-url https://download.pytorch.org/whl/cpu -e '.[dev,embed]'

# Debian's Chromium prints the briefing PDF (`vigil brief`); needs apt (root or sudo).
install-browser:
	command -v chromium >/dev/null || { $$(command -v sudo) apt-get update -qq && \
		$$(command -v sudo) apt-get install -y --no-install-recommends chromium; }

demo: install
	$(BIN)/vigil demo --data $(DATA)

lint: install
	$(BIN)/ruff check src tests benchmarks labels
	$(BIN)/ruff format --check src tests benchmarks labels

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run.py --data $(DATA)
	$(BIN)/python benchmarks/text_match.py --db benchmarks/out/full.duckdb
	$(BIN)/python benchmarks/indicators.py --db benchmarks/out/full.duckdb --data $(DATA)
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/backtest.py --db benchmarks/out/full.duckdb --data $(DATA)

bench-embed: install-embed
	$(BIN)/python benchmarks/embed.py --db benchmarks/out/full.duckdb

clean:
	rm -rf $(VENV) vigil.duckdb vigil.duckdb.wal .pytest_cache
