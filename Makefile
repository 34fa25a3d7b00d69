# The two commands of the README: `make demo` and `make test`. Both set up the
# virtual environment first (Python ≥ 3.11; nothing else needs installing).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test check-sample bench schema clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: setup
	$(BIN)/anxin demo

test: setup
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n 2 --dist loadgroup

schema: setup
	$(BIN)/anxin schema --out docs/schema

bench: setup
	$(BIN)/python bench/check_throughput.py

clean:
	rm -rf $(VENV) demo-data out
