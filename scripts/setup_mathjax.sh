#!/usr/bin/env bash
# Installs MathJax from the npm registry into node_modules/ (git-ignored), so that the
# website serves MathJax itself and its formulas render without a network:
# course/sphinx_ext.py copies node_modules/mathjax/es5 into _build/html/_static/mathjax.
# `make book` runs this script; it does nothing when this version is already there.
# Needs npm (Debian: apt-get install npm).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.2.2  # MathJax 3: what Sphinx's mathjax extension and myst-parser configure
TARGET=node_modules/mathjax

if [ -f "$TARGET/es5/tex-chtml.js" ] &&
   grep -q "\"version\": \"$VERSION\"" "$TARGET/package.json"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "setup_mathjax.sh: npm is missing (Debian: apt-get install npm)" >&2
  exit 1
fi
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  --prefix . "mathjax@$VERSION"
test -f "$TARGET/es5/tex-chtml.js"
echo "MathJax $VERSION installed in $TARGET"
