# Two entry points for people and CI: `make demo` and `make test`. Each builds .venv/ from nothing
# when needed; the stamp file makes a second call skip the install unless the inputs changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.iadbench-installed
EXTRAS ?= dev,clip,vlm

.PHONY: venv browser demo test lint bench clean

venv: $(STAMP)

# tools/install_venv.py installs with uv, given pip's indexes, wheel folders and constraints
# (42 s from an empty cache, 30 s warm, against pip's 103 s, 2026-12-08), else with pip. Both
# byte-compile what they install: where PYTHONDONTWRITEBYTECODE=1 (these machines) nothing is
# cached later, and without it every test process compiled torch, scikit-learn... on import
# (make test went from 871 to 1,184 s of CPU with pip's --no-compile, 2026-12-07).
$(STAMP): pyproject.toml constraints.txt tools/install_venv.py
	$(PYTHON) tools/install_venv.py $(VENV) constraints.txt $(EXTRAS)
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

# pytest, mypy and ruff run side by side; each one's output is shown whole and `make test`
# fails when any of them failed. mypy reads [tool.mypy] (strict on iadbench/ and methods/) from
# pyproject.toml; a fresh clone has no mypy cache, so it costs about a minute of one core. Run
# after pytest it added that minute to the wall time; beside pytest at the lowest priority
# (nice 19) it takes the CPU the test workers leave idle (waiting on subprocesses, kill -9 and
# signal timings, the tail where one worker has finished); Linux gives a nice-19 process about
# 1.5 % of a core a nice-0 one wants (scheduler weights 15 vs 1024). `--dist loadfile` keeps a
# file's tests on one worker, so a
# module-scoped fixture (the learning proof's trainings, the demo from nothing) is built once;
# worksteal/load would build it on each worker that takes one of its tests.
# The venv (pip, CPU) and Chromium (apt-get, network and disk) are built side by side first.
# Every test file's CPU time goes to $(CPU_DIR) (tests/conftest.py) and tests/cpu_budget.py
# fails `make test` when the suite's CPU grew past its budget (issue 17: make test <= 8 min).
PYTEST_ARGS := -q -n auto --dist loadfile
CHECK_LOG := $(VENV)/.check
CPU_DIR := $(CHECK_LOG)/cpu
test:
	@$(MAKE) --no-print-directory -j2 $(STAMP) browser
	@rm -rf $(CPU_DIR); mkdir -p $(CHECK_LOG); \
	$(BIN)/python tests/cpu_budget.py reference $(CPU_DIR); \
	nice -n 19 $(BIN)/mypy > $(CHECK_LOG)/mypy.log 2>&1 & mypy_pid=$$!; \
	nice -n 19 $(BIN)/ruff check iadbench methods tests benchmarks examples tools \
	  > $(CHECK_LOG)/ruff.log 2>&1 & ruff_pid=$$!; \
	trap 'kill $$mypy_pid $$ruff_pid 2>/dev/null; exit 130' INT TERM; \
	echo "HF_HUB_OFFLINE=1 IADBENCH_TEST_CPU_DIR=$(CPU_DIR) $(BIN)/python -m pytest $(PYTEST_ARGS)"; \
	HF_HUB_OFFLINE=1 IADBENCH_TEST_CPU_DIR=$(CPU_DIR) \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); tests=$$?; \
	$(BIN)/python tests/cpu_budget.py check $(CPU_DIR); budget=$$?; \
	wait $$mypy_pid; types=$$?; wait $$ruff_pid; lint=$$?; \
	echo "$(BIN)/mypy (exit $$types)"; cat $(CHECK_LOG)/mypy.log; \
	echo "$(BIN)/ruff check iadbench methods tests benchmarks examples tools (exit $$lint)"; \
	cat $(CHECK_LOG)/ruff.log; \
	test $$tests = 0 && test $$types = 0 && test $$lint = 0 && test $$budget = 0

lint: $(STAMP)
	$(BIN)/ruff check iadbench methods tests benchmarks examples tools
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_harness.py

clean:
	rm -rf $(VENV) build *.egg-info
