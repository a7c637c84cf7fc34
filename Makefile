# Two commands for a fresh clone: `make book` builds the website, `make test` runs
# every test (the strict book build included). Both reuse .venv when it is current.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test exercises references clean help

help:
	@echo "make book       build the website into _build/html (creates .venv if missing)"
	@echo "make test       run the whole test suite, the strict book build included"
	@echo "make exercises  regenerate exercises/ from solutions/ with nbgrader"
	@echo "make clean      remove _build/ (keeps .venv)"

# The venv is (re)installed only when the pinned requirements change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

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

exercises: $(STAMP)
	$(PY) -m autograder.release

clean:
	rm -rf _build
