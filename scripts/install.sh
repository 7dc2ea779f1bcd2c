#!/usr/bin/env bash
# Install the project with the given extras at the versions of requirements/lock.txt (the ones the whole
# test suite last passed with). PROPOSAL_ROUTER_LOCK=none installs the newest versions instead
# (scripts/refresh-lock.sh does that on purpose).
#   bash scripts/install.sh train,dev,ray
set -euo pipefail
cd "$(dirname "$0")/.."
constraints=(-c requirements/lock.txt)
[[ "${PROPOSAL_ROUTER_LOCK:-}" == none ]] && constraints=()
python -m pip install --quiet "${constraints[@]}" -e ".[$1]"
