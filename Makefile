# The two commands of the README: `make demo` and `make test`. Both set up the
# virtual environment first from the lock file (Python ≥ 3.11; nothing else needs
# installing): requirements/dev.txt, exported from uv.lock, hash-checked.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup demo test lock check-sample bench schema clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements/dev.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $@

demo: setup
	$(BIN)/anxin demo

test: setup
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# After changing dependencies in pyproject.toml: resolve again and export the locks.
lock: setup
	$(BIN)/uv lock
	sh requirements/export.sh $(BIN)/uv

schema: setup
	$(BIN)/anxin schema --out docs/schema

bench: setup
	$(BIN)/python bench/check_throughput.py

clean:
	rm -rf $(VENV) demo-data out
