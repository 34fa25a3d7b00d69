# The two commands of the README: `make demo` and `make test`. Both set up the
# virtual environment first from the lock file (Python ≥ 3.11; nothing else needs
# installing): requirements/dev.txt, exported from uv.lock, hash-checked.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

LOWEST ?= .venv-lowest

.PHONY: setup demo test test-lowest lock bench schema screenshots clean

setup: $(VENV)/.installed

# setup.py and the C source: the compiled SM2 verification, built in place by the editable install.
$(VENV)/.installed: pyproject.toml setup.py src/anxin/crypto/_sm2fast.c requirements/dev.txt
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
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# The suite again on the lowest versions pyproject.toml allows (requirements/lowest.txt):
# the lower bounds are tested, not guessed. .ci/run runs it after `make test`.
test-lowest: $(LOWEST)/.installed
	$(LOWEST)/bin/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider

$(LOWEST)/.installed: pyproject.toml setup.py src/anxin/crypto/_sm2fast.c requirements/lowest.txt
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip --disable-pip-version-check install --quiet --require-hashes -r requirements/lowest.txt
	$(LOWEST)/bin/python -m pip --disable-pip-version-check install --quiet --no-deps --no-build-isolation -e .
	touch $@

# After changing dependencies in pyproject.toml: resolve again and export the locks
# (requirements/lowest.txt: every direct dependency at its lower bound, Python 3.11).
lock: setup
	$(BIN)/uv lock
	sh requirements/export.sh $(BIN)/uv
	rm -f requirements/lowest.txt  # (uv keeps an existing output's pins as preferences)
	$(BIN)/uv pip compile pyproject.toml --extra test --resolution lowest-direct --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements/lowest.txt
	# the API client generator's own environment (tests/test_api_client.py)
	$(BIN)/uv pip compile requirements/openapi-client.in --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements/openapi-client.txt

schema: setup
	$(BIN)/anxin schema --out docs/schema

bench: setup
	$(BIN)/python bench/check_throughput.py

# The pictures of docs/console.md and docs/receipts.md: every console page, the login, a
# public page and a receipt, in zh-CN and English, at 1440 and 390 px
# (tests/test_console_screenshots.py, tests/test_receipt_browser.py, in Debian's chromium),
# then made small for the repository (256 colours).
SHOTS_DIR := docs/screenshots
screenshots: setup
	rm -f $(SHOTS_DIR)/*.png
	ANXIN_SCREENSHOTS=$(SHOTS_DIR) $(BIN)/python -m pytest -q -p no:randomly -p no:cacheprovider tests/test_console_screenshots.py tests/test_receipt_browser.py
	$(BIN)/python tests/test_console_screenshots.py shrink $(SHOTS_DIR)

clean:
	rm -rf $(VENV) $(LOWEST) demo-data out
