# Two commands for a newcomer: `make demo` and `make test`. Each sets everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-deps demo test lint format bench screenshot notebooks

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Real data and tools that come from Debian rather than PyPI (skipped where already present).
system-deps:
	@bash scripts/system-deps.sh

demo: setup
	$(VENV)/bin/zoo demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: setup system-deps lint
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/zoo bench $(BENCH_ARGS)

# The README's picture of `zoo serve`, taken by the browser test itself.
screenshot: setup system-deps
	ZOO_UPDATE_SCREENSHOT=1 ZOO_REQUIRE_BROWSER=1 $(VENV)/bin/pytest -q tests/serve/test_browser.py -k screenshot

# The course companion, lectures 2-11: JupyterLab (installed on first use) opens the jupytext
# .py files in notebooks/ as notebooks; saving writes the code and prose back, never outputs.
notebooks: setup
	test -x $(VENV)/bin/jupyter-lab || $(PY) -m pip install -q jupyterlab jupytext
	$(VENV)/bin/jupyter lab notebooks/
