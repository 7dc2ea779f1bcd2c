#!/usr/bin/env bash
# Set up, then run every check CI runs: lint, format, types, and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[train,dev]'
ruff check .
ruff format --check .
mypy
python -m pytest "$@"
