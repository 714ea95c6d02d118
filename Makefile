# Two entry points for people and CI: `make demo` and `make test`. Each builds .venv/ from nothing
# when needed; the stamp file makes a second call skip the install unless the inputs changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.iadbench-installed
EXTRAS ?= dev,clip,vlm

.PHONY: venv browser demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/iadbench demo

# The HTML report's browser test drives Debian's chromium through chromium-driver: installed here
# when missing (CI runs as root on a clean machine; elsewhere through sudo). Without apt-get
# (not Debian) nothing is installed and that one test skips, except under CI=true, where it fails.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver; \
	else echo "no apt-get: the HTML report's browser test will skip (needs chromium)"; fi

# mypy reads its configuration ([tool.mypy]: strict on iadbench/) from pyproject.toml.
test: $(STAMP) browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n auto --dist loadfile
	$(BIN)/mypy
	$(BIN)/ruff check iadbench methods tests benchmarks examples

lint: $(STAMP)
	$(BIN)/ruff check iadbench methods tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_harness.py

clean:
	rm -rf $(VENV) build *.egg-info
