# Two entry points for people and CI: `make demo` and `make test`. Each builds .venv/ from nothing
# when needed; the stamp file makes a second call skip the install unless the inputs changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.iadbench-installed
EXTRAS ?= dev,clip,vlm

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/iadbench demo

# mypy reads its configuration ([tool.mypy]: strict on iadbench/) from pyproject.toml.
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q
	$(BIN)/mypy
	$(BIN)/ruff check iadbench methods tests benchmarks examples

lint: $(STAMP)
	$(BIN)/ruff check iadbench methods tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_harness.py

clean:
	rm -rf $(VENV) build *.egg-info
