# Everything a reader or CI runs goes through here. `make serve` and `make test` set up
# .venv from requirements.txt the first time (and again only when requirements.txt changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export NO_MKDOCS_2_WARNING := 1

.PHONY: help install serve test test-gpu build snippets outputs bench version clean

help:
	@echo "make serve     set up .venv and serve the site on http://127.0.0.1:8000"
	@echo "make test      set up .venv and run every check CI runs"
	@echo "make test-gpu  run every snippet on CUDA (REQUIRE_CUDA=1); fails without a GPU"
	@echo "make snippets  regenerate snippets/ from the pages"
	@echo "make outputs   rewrite the outputs shown on the pages from a real run"
	@echo "make bench     time each chapter's code, the test suite and the site build"
	@echo "make build     mkdocs build --strict into site/"

install: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python 3.11 or newer is needed to create $(VENV), found: $$($(PYTHON) --version 2>&1 || echo none) (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

serve: $(STAMP)
	$(PY) -m mkdocs serve --dev-addr 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest

# The GPU machine may have torch preinstalled and no network: `make test-gpu PY=python3`
# uses that interpreter as it is; the default sets up .venv like `make test`.
test-gpu: $(if $(filter $(VENV)/bin/python,$(PY)),$(STAMP))
	REQUIRE_CUDA=1 $(PY) -m pytest -p no:cacheprovider tests/test_snippets.py

build: $(STAMP)
	$(PY) -m mkdocs build --strict

snippets: $(STAMP)
	$(PY) tools/extract_snippets.py

outputs: $(STAMP)
	$(PY) tools/update_outputs.py
	$(PY) tools/extract_snippets.py

bench: $(STAMP)
	$(PY) tools/bench.py

# The site's version name for mike: the torch minor release pinned in requirements.txt.
version:
	@sed -n 's/^torch==\([0-9]*\.[0-9]*\).*/\1/p' requirements.txt

clean:
	rm -rf site .cache .pytest_cache
