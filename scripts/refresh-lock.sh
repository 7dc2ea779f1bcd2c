#!/usr/bin/env bash
# Refresh requirements/lock.txt on purpose: install the newest versions of every dependency in a new
# virtual environment, run the whole test suite there, and only when it passes write the new lock.
#   bash scripts/refresh-lock.sh          (then review `git diff requirements/lock.txt` and commit it)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d /tmp/proposal-router-lock.XXXXXX)
trap 'rm -rf "$venv"' EXIT
python -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
PROPOSAL_ROUTER_LOCK=none bash scripts/test.sh -q -p no:cacheprovider
python scripts/lock.py
