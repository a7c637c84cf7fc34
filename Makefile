# Two commands for a fresh clone: `make book` builds the website, `make test` runs
# every test (the strict book build included). Both reuse .venv when it is current.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The branch GitHub Pages serves; the Colab buttons open the pages' notebooks from it,
# so it must equal course_colab_branch in _config.yml (a test checks).
PAGES_BRANCH ?= gh-pages
# The public course (what students get; scripts/make_public.py) is written to
# PUBLIC_DIR and published to PUBLIC_REMOTE: by default repository.url in _config.yml,
# the one place the launch buttons and the downloads' set-up cell read as well.
PUBLIC_DIR ?= _public
PUBLIC_REMOTE ?= $(shell $(PYTHON) scripts/make_public.py --print-remote)
SITE_DIR ?= _build/html

.PHONY: book test test-fast lint exercises public publish publish-built clean help lock translations

help:
	@echo "make book       build the website into _build/html, in Chinese into _build/html/zh"
	@echo "make translations  update locale/ after an English edit, list what needs translating"
	@echo "make test       lint, then the whole test suite, the strict book build included"
	@echo "                (OFFLINE=1: without the tests that need the package registry)"
	@echo "make test-fast  lint, then the tests that need no book build, sandbox, browser,"
	@echo "                network or long run (minutes)"
	@echo "make lint       ruff check (configured in pyproject.toml)"
	@echo "make exercises  regenerate exercises/ (and exercises/zh_CN/) from solutions/ with nbgrader"
	@echo "make public     write the public course (no solutions, no grading code) into $(PUBLIC_DIR)/"
	@echo "make publish    build, then push the public course and the site ($(PAGES_BRANCH)) to PUBLIC_REMOTE"
	@echo "make clean      remove _build/ (keeps .venv)"
	@echo "make lock       regenerate requirements.txt and requirements-student.txt from the .in files"

# The venv is (re)installed only when the pinned requirements change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

# The exact pins come from requirements*.in through uv (its version is pinned in
# requirements.in), for every platform and Python 3.11-3.13. The existing locks are the
# preferred versions, so only what an .in file changes moves; the student lock is
# constrained by the instructor's, so both install the same numerical stack.
LOCK := $(VENV)/bin/uv pip compile -q --universal --python-version 3.11
lock: $(STAMP)
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-student.in -c requirements.txt -o requirements-student.txt

# MathJax for the offline website, from npm into node_modules/ (git-ignored); re-run
# only when the script (its pinned version) changes.
MATHJAX := node_modules/mathjax/es5/tex-chtml.js
$(MATHJAX): scripts/setup_mathjax.sh
	scripts/setup_mathjax.sh
	touch $(MATHJAX)

book: $(STAMP) $(MATHJAX)
	$(PY) scripts/build_book.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The catalogues of the translations (locale/<language>/LC_MESSAGES/<page>.po) brought
# in step with the English pages; then what needs translating, page by page.
translations: $(STAMP) $(MATHJAX)
	$(PY) scripts/translations.py

# Test lanes: the markers registered in pyproject.toml. `make test` runs the tests in
# parallel (pytest-xdist, a worker per logical CPU, at most 4; a file's tests share one
# worker, so its module fixtures run once), then, alone, those whose own worker pools or
# time limits assume the machine is theirs (serial, sandbox, services). It prints each
# step's time.
# OFFLINE=1 leaves out the tests that need the package registry (network).
PYTEST   := $(PY) -m pytest
ALONE    := serial or sandbox or services
NETWORK  := $(if $(OFFLINE), and not network)
FAST     := not slow and not sandbox and not browser and not build and not network

test: $(STAMP)
	@start=$$(date +%s); $(MAKE) --no-print-directory lint book || exit 1; \
	tests=$$(date +%s); \
	$(PYTEST) -n logical --maxprocesses 4 --dist loadfile -m "not ($(ALONE))$(NETWORK)"; \
	parallel=$$?; alone=$$(date +%s); \
	$(PYTEST) -m "($(ALONE))$(NETWORK)"; serial=$$?; end=$$(date +%s); \
	echo "make test: $$((end - start)) s in all: lint and book $$((tests - start)) s," \
	     "parallel tests $$((alone - tests)) s, serial tests $$((end - alone)) s"; \
	[ $$parallel -eq 0 ] && [ $$serial -eq 0 ]

# The quick lane while working.
test-fast: lint
	@start=$$(date +%s); $(PYTEST) -m "$(FAST)"; status=$$?; \
	echo "make test-fast: $$(($$(date +%s) - start)) s of tests"; exit $$status

exercises: $(STAMP)
	$(PY) -m autograder release

# Standard library only: works on a fresh clone, before .venv exists.
public:
	$(PYTHON) scripts/make_public.py --dest $(PUBLIC_DIR)

publish: book
	$(MAKE) --no-print-directory publish-built

# Push what is built: the public course, one commit on its branch (repository.branch),
# and the site. --no-jekyll: GitHub Pages' Jekyll would hide _static/ and _sources/
# (leading "_"). --no-history: the Pages branch holds the current site only.
# tests/website/test_site_html.py runs this target into scratch repositories.
publish-built:
	$(PYTHON) scripts/make_public.py --dest $(PUBLIC_DIR) --push $(PUBLIC_REMOTE)
	$(VENV)/bin/ghp-import --no-jekyll --no-history --force --push \
		--remote $(PUBLIC_REMOTE) --branch $(PAGES_BRANCH) \
		-m "Publish the site built from $$(git rev-parse --short HEAD)" $(SITE_DIR)

clean:
	rm -rf _build
