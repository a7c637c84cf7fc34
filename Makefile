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

.PHONY: book test test-fast exercises public publish publish-built clean help lock

help:
	@echo "make book       build the website into _build/html (creates .venv if missing)"
	@echo "make test       run the whole test suite, the strict book build included"
	@echo "make test-fast  the tests that need no book build, sandbox, browser or long run (minutes)"
	@echo "make exercises  regenerate exercises/ from solutions/ with nbgrader"
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

test: book
	$(PY) -m pytest

# The quick lane while working: deselects the markers registered in pyproject.toml.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not sandbox and not browser and not build"

exercises: $(STAMP)
	$(PY) -m autograder.release

# Standard library only: works on a fresh clone, before .venv exists.
public:
	$(PYTHON) scripts/make_public.py --dest $(PUBLIC_DIR)

publish: book
	$(MAKE) --no-print-directory publish-built

# Push what is built: the public course, one commit on its branch (repository.branch),
# and the site. --no-jekyll: GitHub Pages' Jekyll would hide _static/ and _sources/
# (leading "_"). --no-history: the Pages branch holds the current site only.
# tests/test_site_html.py runs this target into scratch repositories.
publish-built:
	$(PYTHON) scripts/make_public.py --dest $(PUBLIC_DIR) --push $(PUBLIC_REMOTE)
	$(VENV)/bin/ghp-import --no-jekyll --no-history --force --push \
		--remote $(PUBLIC_REMOTE) --branch $(PAGES_BRANCH) \
		-m "Publish the site built from $$(git rev-parse --short HEAD)" $(SITE_DIR)

clean:
	rm -rf _build
