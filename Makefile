# Two commands do all the set-up on a fresh machine:
#   make demo   runs the adapter in front of the WL 2.0 simulator (embedded SQLite store)
#   make test   runs ruff, mypy and the test suite
# Both create .venv and install what they need first.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# (setup.py compiles the .pyx files: a changed one is built again here)
$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml setup.py $(wildcard adapter/*/*.pyx)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test
	bash tests/setup-system.sh

demo: install
	$(BIN)/wl-adapter demo

test: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install-test
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/run.py
	$(BIN)/python bench/wsgi_servers.py
	$(BIN)/python bench/bench_simulator.py

clean:
	rm -rf $(VENV) build dist *.egg-info adapter/*/_*.c adapter/*/_*.so
