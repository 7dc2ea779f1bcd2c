#!/usr/bin/env bash
# Set up, then run every check CI runs: lint, format, types, and the test suite.
# The storage tests also run against PostgreSQL: a throwaway local server is started when Debian's
# postgresql package is installed and PROPOSAL_ROUTER_TEST_POSTGRES_URL does not name one already.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh train,dev,ray
ruff check .
ruff format --check .
mypy
if [[ -z "${PROPOSAL_ROUTER_TEST_POSTGRES_URL:-}" ]] && ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  read -r url pgdir < <(bash scripts/postgres.sh start)
  trap 'bash scripts/postgres.sh stop "$pgdir"' EXIT
  export PROPOSAL_ROUTER_TEST_POSTGRES_URL="$url"
fi
python -m pytest "$@"
