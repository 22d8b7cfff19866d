# Everything a reader or CI runs goes through here. `make serve` and `make test` set up
# .venv from requirements.txt the first time (and again only when requirements.txt changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3)
# The GPU runner keeps its venv outside the work tree (README: "GPU runner"): VENV=/path.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Tools started by name (mike starts `mkdocs`; the tests start actionlint and zizmor) come
# from the venv on every machine, not only where someone activated it.
WITH_VENV := PATH="$(abspath $(VENV))/bin:$$PATH"
export NO_MKDOCS_2_WARNING := 1
# axe-core, pinned (tools/checks/accessibility.py names the same version; its test compares them).
AXE_VERSION := 4.14.1
AXE := .cache/axe-$(AXE_VERSION)/node_modules/axe-core/axe.min.js
# The site's version name for mike: the torch minor release pinned in requirements.txt.
VERSION = $(shell sed -n 's/^torch==\([0-9]*\.[0-9]*\).*/\1/p' requirements.txt)

.PHONY: help install test-torch browser axe serve test test-browser test-gpu build snippets diagrams outputs bench page-budget search-check publish publish-local version clean

help:
	@echo "make serve     set up .venv and serve the site on http://127.0.0.1:8000"
	@echo "make test      set up .venv and run every check CI runs"
	@echo "make test-gpu  run every unit of every page on CUDA (REQUIRE_CUDA=1); fails without a GPU"
	@echo "make test-browser  only the published-site Chromium tests (make test's second process)"
	@echo "make snippets  regenerate snippets/ and the notebooks from the pages"
	@echo "make diagrams  draw the pages' mermaid diagrams into docs/assets/diagrams/ (Chromium)"
	@echo "make outputs [PAGES=docs/ko/x.md]  run the pages once; rewrite their outputs, figures, notebooks"
	@echo "make bench     compute per chapter and script, the test suite's wall time, the overhead"
	@echo "make page-budget  bytes, requests and first paint of every page, plus Lighthouse"
	@echo "make search-check  hit rate of the search query set, in Chromium on the published site"
	@echo "make axe       install the pinned axe-core (make test does) for tests/test_accessibility.py"
	@echo "make build     mkdocs build --strict into site/"
	@echo "make publish [PUSH=1]  mike deploy <torch minor> + latest into gh-pages (push with PUSH=1)"
	@echo "make publish-local  make publish into a local bare repo, served on 127.0.0.1:8001"
	@echo "make test-torch TORCH=2.13.0 TORCHVISION=0.28.0   every chapter against another torch, in .venv-torch-<version>;"
	@echo "                writes docs/assets/compat/torch-<version>.json (TORCHVISION=none: no torchvision; TORCH=newest)"

install: $(STAMP)

# The publish job installs only what builds the site: make publish REQUIREMENTS=requirements-docs.txt
REQUIREMENTS ?= requirements.txt

$(STAMP): requirements.txt requirements-docs.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python 3.11 or newer is needed to create $(VENV), found: $$($(PYTHON) --version 2>&1 || echo none) (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	touch $@

serve: $(STAMP)
	$(PY) -m mkdocs serve --dirty --dev-addr 127.0.0.1:8000

# The browser tests drive a real Chromium: $CHROMIUM, else Debian's chromium (installed
# with apt when we are root, with a CJK font for the Korean screenshots), else
# Playwright's own build (downloaded on machines that can reach its CDN).
browser: $(STAMP)
	@[ -n "$$CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) || \
	      { echo "error: apt-get could not install chromium; set CHROMIUM=/path/to/chromium"; exit 1; }; \
	  else \
	    $(PY) -m playwright install chromium || \
	      { echo "error: no Chromium found: install Debian's chromium package or set CHROMIUM=/path/to/chromium"; exit 1; }; \
	  fi; }

# Two pytest processes side by side: most Chromium tests (-m browser: mostly waiting on the
# browser) and the rest (whose background jobs, tests/conftest.py, keep the cores busy). Both take
# the one publish (tools/checks/publish_local.kept); the Chromium run's report follows the
# other's. No nice: at nice 10 the chapters got a tenth of a core beside Chromium's renderers, and
# one ran past its 300 s timeout. `$(PY) -m pytest` runs everything in one process.
test: $(STAMP) browser $(AXE)
	@mkdir -p build
	@$(PY) -m pytest -m browser -p no:cacheprovider > build/test-browser.log 2>&1 & browser=$$!; \
	  $(PY) -m pytest -m "not browser"; rest=$$?; wait $$browser; chromium=$$?; \
	  echo "==== the Chromium tests (pytest -m browser), run beside the others: build/test-browser.log ===="; \
	  cat build/test-browser.log; [ $$rest = 0 ] && [ $$chromium = 0 ]

test-browser: $(STAMP) browser $(AXE)
	$(PY) -m pytest -m browser

# The GPU machine may have torch preinstalled and no network: `make test-gpu PY=python3`
# uses that interpreter as it is; the default sets up $(VENV) like `make test`.
test-gpu: $(if $(filter $(VENV)/bin/python,$(PY)),$(STAMP))
	REQUIRE_CUDA=1 $(PY) -m pytest -p no:cacheprovider tests/test_chapters.py

build: $(STAMP)
	$(PY) -m mkdocs build --strict

snippets: $(STAMP)
	$(PY) -m tools.pages.extract_snippets
	$(PY) -m tools.pages.make_notebooks

diagrams: $(STAMP) browser
	$(PY) -m tools.pages.diagrams

outputs: $(STAMP)
	$(PY) -m tools.run.outputs $(PAGES)
	$(PY) -m tools.pages.extract_snippets

bench: $(STAMP)
	$(PY) -m tools.checks.bench --site --suite

# Lighthouse comes from npm (a JavaScript package, no browser download): it drives our Chromium.
LIGHTHOUSE := .cache/lighthouse/node_modules/.bin/lighthouse
$(LIGHTHOUSE):
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is needed for Lighthouse (apt-get install npm)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .cache/lighthouse lighthouse@12.8.2

# axe-core from npm (plain JavaScript, no browser download): tests/test_accessibility.py
# injects it into every page of the published site, in both palettes.
$(AXE):
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is needed for axe-core (apt-get install npm)"; exit 1; }
	npm install --silent --no-audit --no-fund --prefix .cache/axe-$(AXE_VERSION) axe-core@$(AXE_VERSION)

axe: $(AXE)

# The site `make test` published (build/publish/, tests/test_ci.py), measured as served.
page-budget: browser $(LIGHTHOUSE)
	$(PY) -m tools.checks.page_budget --lighthouse

# The search query set (tests/search_queries.yml + the glossary) on the site `make test` published.
search-check: browser
	$(PY) -m tools.checks.search_check

# What the CI publish job runs: mike builds the site (strictly: mkdocs.yml says strict) and
# commits it to gh-pages as <torch minor> with the alias latest, the default version.
publish: $(STAMP)
	$(WITH_VENV) mike deploy $(if $(PUSH),--push) --update-aliases $(VERSION) latest
	$(WITH_VENV) mike set-default $(if $(PUSH),--push) latest

# The publish job's own steps, in a scratch clone pushing to a local bare repository that
# already holds an older version; then gh-pages served on http://127.0.0.1:8001.
publish-local: $(STAMP)
	$(PY) -m tools.checks.publish_local --serve 8001

# Which torch releases the chapters run on (issue: readers' environments): every chapter run
# against another torch in its own venv, with the pins for everything else, writing
# docs/assets/compat/torch-<version>.json, which the install page's table shows. torch and
# torchvision must match (pytorch.org's table); TORCHVISION=none where no matching build
# can be had (the chapters that need it are then "not run"). TORCH=newest: the newest releases.
TORCH_VENV ?= .venv-torch-$(TORCH)
TORCH_SPEC = $(if $(filter newest,$(TORCH)),torch torchvision,torch==$(TORCH) $(if $(filter-out none,$(TORCHVISION)),torchvision==$(TORCHVISION)))
test-torch:
	@[ -n "$(TORCH)" ] || { echo "error: give TORCH=X.Y.Z with TORCHVISION=A.B.C (or TORCHVISION=none), or TORCH=newest"; exit 1; }
	@[ "$(TORCH)" = newest ] || [ -n "$(TORCHVISION)" ] || { echo "error: TORCH=$(TORCH) needs TORCHVISION=A.B.C (its match) or TORCHVISION=none"; exit 1; }
	$(PYTHON) -m venv $(TORCH_VENV)
	cat requirements-docs.txt requirements.txt | grep -vE '^(-r |(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z-]+)[=<>~ ])' > $(TORCH_VENV)/requirements-but-torch.txt
	$(TORCH_VENV)/bin/pip install --quiet -r $(TORCH_VENV)/requirements-but-torch.txt
	$(if $(filter none,$(TORCHVISION)),$(TORCH_VENV)/bin/pip uninstall --quiet --yes torchvision)
	$(TORCH_VENV)/bin/pip install --quiet --upgrade $(TORCH_SPEC)
	$(TORCH_VENV)/bin/python -m tools.run.compat

version:
	@echo $(VERSION)

clean:
	rm -rf site build .cache .pytest_cache
