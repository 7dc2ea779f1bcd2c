#!/usr/bin/env bash
# Set up, then run the main job on the demo data: train on last year's assignments, route this year's
# intake sheet, evaluate it against the committee's final assignments, and start the routing service on
# the new model with the intake submitted, so the review queue can be worked in the browser.
#   bash scripts/demo.sh [OUT] [--no-serve]      (OUT defaults to runs/demo; PORT defaults to 8000)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh train

out=runs/demo
serve=1
for arg in "$@"; do
  case "$arg" in
    --no-serve) serve=0 ;;
    *) out="$arg" ;;
  esac
done
base="${PROPOSAL_ROUTER_BASE_MODEL:-../shared/models/me5-small-zh}"
if [ -f "$base/config.json" ]; then
  model_args=(--base-model "$base")
else
  echo "No pretrained encoder at $base (set PROPOSAL_ROUTER_BASE_MODEL); training the TF-IDF baseline instead." >&2
  model_args=(--model-type baseline)
fi

proposal-router train --data data/demo/train.csv --rejections data/demo/rejections.csv --out "$out/model" "${model_args[@]}"
if [ -f "$base/config.json" ]; then
  proposal-router export --model "$out/model" --quantize int8 \
    || echo "int8 export refused (parity below the bar): serving the fp32 encoder." >&2
fi
proposal-router route --model "$out/model" --input data/demo/intake.xlsx --output "$out/routed.xlsx" \
  --id-field 编号 --title-field 提案标题 --body-field 提案内容 --history data/demo/train.csv
proposal-router evaluate --model "$out/model" --data data/demo/intake_labelled.csv --out "$out/intake-evaluation" >/dev/null

echo
echo "model bundle:            $out/model"
echo "out-of-fold evaluation:  $out/model/training/evaluation/report.md"
echo "routed intake:           $out/routed.xlsx"
echo "intake vs final answers: $out/intake-evaluation/report.md"
[ "$serve" = 1 ] || exit 0

port="${PORT:-8000}"
url="http://127.0.0.1:$port"
db="sqlite:///$out/service.db"
rm -f "$out"/service.db*
reviewer=$(proposal-router keys create --role reviewer --name 演示复核员 --db "$db" | tail -1)
screener=$(proposal-router keys create --role screener --name 提案委员会 --db "$db" | tail -1)
analyst=$(proposal-router keys create --role analyst --name 数据分析 --db "$db" | tail -1)
department=$(proposal-router keys create --role department --department 市教育局 --db "$db" | tail -1)
PROPOSAL_ROUTER_API_DOCS=true proposal-router serve --model "$out/model" --db "$db" --port "$port" &
server=$!
trap 'kill $server 2>/dev/null' EXIT
until curl -fsS "$url/readyz" >/dev/null 2>&1; do
  kill -0 $server 2>/dev/null || { echo "the service did not start" >&2; exit 1; }
  sleep 0.5
done
python scripts/submit_intake.py "$url" "$screener" data/demo/intake.xlsx
cat <<EOT

The routing service is running at $url (Ctrl-C stops it; its database is $out/service.db).
  reviewers' page: $url/ui/login   reviewer key: $reviewer
  API docs:        $url/docs
  screener key:    $screener
  analyst key:     $analyst   (quality page: $url/ui/quality)
  department key:  $department   (市教育局: $url/ui/department, returns 二次交办 and 签收)
EOT
wait $server
