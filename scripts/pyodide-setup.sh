#!/usr/bin/env bash
# Real Pyodide for tests/test_pyodide.py, kept in build/pyodide (not committed):
#   node_modules/pyodide  the npm package, pinned: Pyodide's core (interpreter, standard library, lock file)
#   wheels/               the pure-Python wheels the test installs offline with micropip (deps=False):
#                         micropip and packaging (the npm package does not ship them), jsonschema and its
#                         pure dependencies at the versions of this Pyodide's distribution, xlwings.
# Not to be had offline: rpds-py (jsonschema's Rust dependency; Pyodide builds it, PyPI has no wasm
# wheel), numpy and pandas (likewise) — the test stands in for them (tests/pyodide/inside.py says how).
set -euo pipefail
cd "$(dirname "$0")/.."
PYODIDE=0.27.7          # Python 3.12.7; its pyodide-lock.json pins the versions below
DIR=build/pyodide
PY=${PY:-.venv/bin/python}
mkdir -p "$DIR/wheels"
if [ ! -f "$DIR/node_modules/pyodide/package.json" ] || ! grep -q "\"version\": \"$PYODIDE\"" "$DIR/node_modules/pyodide/package.json"; then
    (cd "$DIR" && npm install --no-audit --no-fund --no-save --silent "pyodide@$PYODIDE" >/dev/null)
fi
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform any -d "$DIR/wheels" \
    micropip==0.9.0 packaging==24.2 jsonschema==4.21.1 referencing==0.34.0 attrs==23.2.0 \
    jsonschema-specifications==2023.12.1 xlwings==0.37.8 2>&1 | grep -v "^WARNING: Location" || true
ls "$DIR/wheels"/*.whl >/dev/null
