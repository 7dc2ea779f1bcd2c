#!/usr/bin/env bash
# Set up, then run the main job on the demo data: train on last year's assignments, route this year's
# intake sheet, evaluate it against the committee's final assignments, and say where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet -e '.[train]'

base="${PROPOSAL_ROUTER_BASE_MODEL:-../shared/models/me5-small-zh-l4}"
out="${1:-runs/demo}"
if [ -f "$base/config.json" ]; then
  model_args=(--base-model "$base")
else
  echo "No pretrained encoder at $base (set PROPOSAL_ROUTER_BASE_MODEL); training the TF-IDF baseline instead." >&2
  model_args=(--model-type baseline)
fi

proposal-router train --data data/demo/train.csv --out "$out/model" "${model_args[@]}"
proposal-router route --model "$out/model" --input data/demo/intake.xlsx --output "$out/routed.xlsx" \
  --id-field 编号 --title-field 提案标题 --body-field 提案内容
proposal-router evaluate --model "$out/model" --data data/demo/intake_labelled.csv --out "$out/intake-evaluation" >/dev/null

echo
echo "model bundle:            $out/model"
echo "held-out evaluation:     $out/model/evaluation/report.md"
echo "routed intake:           $out/routed.xlsx"
echo "intake vs final answers: $out/intake-evaluation/report.md"
