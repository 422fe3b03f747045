# Two commands set everything up on a fresh machine with only Python 3.11+:
#   make demo   — create .venv, install, build the evidence store from ../shared/data
#   make test   — create .venv, install, lint, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: install install-embed install-browser install-java demo serve test lint bench bench-embed clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	$(MAKE) --no-print-directory install-browser
	$(MAKE) --no-print-directory install-java
	touch $(STAMP)

# The optional [embed] extra: torch's CPU wheel from its own index (PyPI's pulls CUDA).
install-embed: install
	$(BIN)/python -m pip install --quiet -c constraints.txt \
		--extra-index-url https://download.pytorch.org/whl/cpu -e '.[dev,embed]'

# Debian's Chromium prints the briefing PDF and runs the dashboard's browser tests (Playwright
# drives it; nothing is downloaded from Playwright's CDN). apt-get as root or through sudo;
# where neither exists it says what to do, and PDFs and browser tests are skipped.
install-browser:
	@command -v chromium >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		echo "installing Debian's chromium (once) …"; \
		{ $$SUDO apt-get update -qq && \
		  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "warning: apt-get could not install chromium: PDFs and browser tests will be skipped"; \
	else \
		echo "warning: no chromium and no apt-get: install Chromium for PDFs and browser tests"; \
	fi

# Debian's headless Java 17 runs Spark (`--engine spark` and the engine-parity test); as for
# Chromium, apt-get as root or through sudo, and without either the Spark tests are skipped.
install-java:
	@command -v java >/dev/null && exit 0; \
	if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		echo "installing Debian's headless Java 17 for Spark (once) …"; \
		{ $$SUDO apt-get update -qq && \
		  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; } || \
		echo "warning: apt-get could not install Java: --engine spark and its tests will be skipped"; \
	else \
		echo "warning: no java and no apt-get: install a Java 17 runtime for --engine spark"; \
	fi

demo: install
	$(BIN)/vigil demo --data $(DATA)

serve: install
	$(BIN)/vigil serve --data $(DATA)

lint: install
	$(BIN)/ruff check src tests benchmarks labels
	$(BIN)/ruff format --check src tests benchmarks labels

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/run.py --data $(DATA)
	$(BIN)/python benchmarks/text_match.py --db benchmarks/out/full.duckdb
	$(BIN)/python benchmarks/indicators.py --db benchmarks/out/full.duckdb --data $(DATA)
	$(BIN)/python benchmarks/scenarios.py --db benchmarks/out/full.duckdb --data $(DATA)
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/backtest.py --db benchmarks/out/full.duckdb --data $(DATA)
	$(BIN)/vigil replay --from 2021-01-01 --to 2023-12-31 --db benchmarks/out/full.duckdb \
		--data $(DATA) --out benchmarks/out >/dev/null
	$(BIN)/python benchmarks/serve.py --db benchmarks/out/full.duckdb --data $(DATA)

bench-embed: install-embed
	$(BIN)/python benchmarks/embed.py --db benchmarks/out/full.duckdb

clean:
	rm -rf $(VENV) vigil.duckdb vigil.duckdb.wal .pytest_cache
