#!/usr/bin/env bash
# Install the project with the given extras at the versions of requirements/lock.txt (the ones the whole
# test suite last passed with). PROPOSAL_ROUTER_LOCK=none installs the newest versions instead
# (scripts/refresh-lock.sh does that on purpose).
#   bash scripts/install.sh train,dev,ray
# With the train extra it also makes sure of a Chinese font for the evaluation plots: Debian's
# fonts-noto-cjk (Noto Sans CJK SC), installed through apt-get when fc-list does not list it.
set -euo pipefail
cd "$(dirname "$0")/.."
constraints=(-c requirements/lock.txt)
[[ "${PROPOSAL_ROUTER_LOCK:-}" == none ]] && constraints=()
python -m pip install --quiet "${constraints[@]}" -e ".[$1]"

if [[ ",$1," == *,train,* ]] && ! { command -v fc-list >/dev/null && fc-list | grep -qi "Noto Sans CJK SC"; }; then
  sudo=()
  ((EUID == 0)) || ! command -v sudo >/dev/null || sudo=(sudo)
  if command -v apt-get >/dev/null && { ((EUID == 0)) || ((${#sudo[@]})); }; then
    echo "安装中文字体 fonts-noto-cjk（评估图需要）……"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fontconfig >/dev/null
  else
    echo "警告：未找到中文字体 Noto Sans CJK SC，评估图的中文将无法显示；请安装 fonts-noto-cjk（如 sudo apt-get install fonts-noto-cjk）。" >&2
  fi
fi
