"""A 机构改革 between training and use (model/reform.py): 市政务服务和数据管理局 renamed 市数据局, 市体育局 and
市文化广电和旅游局 merged. The old bundle, given the new taxonomy, says so, routes to the new names and takes
reviewers' corrections to them; the new bundle, evaluated with the old taxonomy, is not mis-scored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal
from proposal_router.model.taxonomy import load_taxonomy
from proposal_router.service.catalogue import Catalogue
from proposal_router.service.cli import main
from tests.conftest import REPO
from tests.reform import MERGED, RENAMED, TAXONOMY, write_reformed

DEMO = REPO / "data" / "demo"
SPORT = Proposal(
    title="关于建设社区健身步道和体育场馆的提案",
    body="建议规划建设更多社区健身设施、健身步道和体育场馆，推动全民健身和青少年体育。",
)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reform")


@pytest.fixture(scope="module")
def new_taxonomy(work: Path) -> Path:
    return write_reformed(work)


def _train(out: Path, taxonomy: Path, capsys: pytest.CaptureFixture[str] | None = None) -> str:
    argv = ["train", "--data", str(DEMO / "train.csv"), "--out", str(out), "--model-type", "baseline"]
    assert main([*argv, "--taxonomy", str(taxonomy)]) == 0
    return ""


@pytest.fixture(scope="module")
def old_bundle(work: Path) -> Path:
    _train(work / "old", TAXONOMY)
    return work / "old"


def test_old_bundle_with_the_new_taxonomy_warns_and_routes_to_the_new_names(
    old_bundle: Path, new_taxonomy: Path
) -> None:
    before = Router(old_bundle)
    after = Router(old_bundle, taxonomy=load_taxonomy(new_taxonomy))
    assert before.reform is None  # its own taxonomy: nothing to say
    assert after.reform is not None
    message = after.reform.message(after.manifest)
    (sport, culture), merged = MERGED
    assert f"更名：{RENAMED[0]} → {RENAMED[1]}" in message
    assert f"合并：{culture}、{sport} → {merged}" in message and "按新单位名称交办" in message
    lead = after.labels["lead"]
    assert RENAMED[1] in lead and merged in lead
    assert not {RENAMED[0], sport, culture} & set(lead)
    (old,) = before.route([SPORT])
    (new,) = after.route([SPORT])
    assert old.lead_department is not None and old.lead_department.name in (sport, culture)
    assert new.lead_department is not None and new.lead_department.name == merged
    probs_before, probs_after = before.probabilities([SPORT.text]), after.probabilities([SPORT.text])
    columns = [before.labels["lead"].index(name) for name in (sport, culture)]
    expected = probs_before["lead"][0, columns].sum()
    assert probs_after["lead"][0, lead.index(merged)] == pytest.approx(expected)
    assert probs_after["lead"].sum() == pytest.approx(1.0)
    assert all(c.name not in (sport, culture) for c in new.candidates + new.co_departments)


def test_old_bundle_with_the_new_taxonomy_accepts_corrections_to_the_new_names(
    old_bundle: Path, new_taxonomy: Path
) -> None:
    catalogue = Catalogue.of(Router(old_bundle, taxonomy=load_taxonomy(new_taxonomy)))
    merged = MERGED[1]
    assert catalogue.department(RENAMED[1]) == RENAMED[1]
    assert catalogue.department(merged) == merged
    assert catalogue.department("市体育局") == merged  # the old name, as a reviewer may still type it
    assert catalogue.department("政数局") == RENAMED[1]  # an alias of the old name
    assert "市体育局" in catalogue.aliases[merged]


def test_route_warns_on_stderr_and_writes_the_new_names(
    old_bundle: Path, new_taxonomy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "routed.jsonl"
    argv = ["route", "--model", str(old_bundle), "--input", str(DEMO / "intake_labelled.csv"), "--output", str(out)]
    assert main([*argv, "--taxonomy", str(new_taxonomy)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("警告：模型包") and f"更名：{RENAMED[0]} → {RENAMED[1]}" in err
    leads = {json.loads(line)["route_lead_department"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert MERGED[1] in leads and not {RENAMED[0], *MERGED[0]} & leads


def test_train_reports_the_rows_each_old_name_moved(
    work: Path, new_taxonomy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = DEMO / "train.csv"
    counts = {name: 0 for name in (RENAMED[0], *MERGED[0])}
    for line in data.read_text(encoding="utf-8-sig").splitlines():
        for name in counts:
            counts[name] += f",{name}," in line or line.endswith(f",{name}")
    argv = ["train", "--data", str(data), "--out", str(work / "new"), "--model-type", "baseline"]
    assert main([*argv, "--taxonomy", str(new_taxonomy)]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((work / "new" / "manifest.json").read_text(encoding="utf-8"))
    remapped = {r["from"]: (r["to"], r["rows"]) for r in manifest["training"]["remapped"]}
    assert remapped[RENAMED[0]][0] == RENAMED[1] and remapped["市体育局"][0] == MERGED[1]
    for name, (target, rows) in remapped.items():
        assert rows > 0 and f"机构改革：{name} → {target}：{rows} 行按新名称学习" in out
    report = (work / "new" / "training" / "evaluation" / "report.md").read_text(encoding="utf-8")
    assert "机构改革" in report and f"{RENAMED[0]} → {RENAMED[1]}：{remapped[RENAMED[0]][1]} 行" in report
    assert manifest["heads"]["lead"]["labels"].count(MERGED[1]) == 1


def test_the_new_bundle_evaluated_with_the_old_taxonomy_is_not_mis_scored(
    work: Path, new_taxonomy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = work / "new"
    if not bundle.is_dir():
        _train(bundle, new_taxonomy)
    scores = {}
    for name, taxonomy in (("old", TAXONOMY), ("new", new_taxonomy)):
        argv = ["evaluate", "--model", str(bundle), "--data", str(DEMO / "intake_labelled.csv")]
        assert main([*argv, "--out", str(tmp_path / name), "--taxonomy", str(taxonomy)]) == 0
        metrics = json.loads((tmp_path / name / "metrics.json").read_text(encoding="utf-8"))
        scores[name] = metrics["lead_department"]["accuracy"]
        err = capsys.readouterr().err
        assert ("评估与复核时旧单位名称按模型包的单位表计为新名称" in err) == (name == "old")
    assert scores["old"] == pytest.approx(scores["new"])


def test_a_bundle_served_without_the_taxonomy_file_resolves_aliases(
    old_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proposal_router.service.config import Settings

    monkeypatch.chdir(tmp_path)  # no data/taxonomy.yaml here
    monkeypatch.delenv("PROPOSAL_ROUTER_TAXONOMY", raising=False)
    assert Settings().checked_taxonomy(None) is None
    router = Router(old_bundle)
    assert router.taxonomy is not None and router.reform is None
    catalogue = Catalogue.of(router)
    assert catalogue.department("住建局") == "市住房和城乡建设局"
    assert catalogue.department("政数局") == RENAMED[0]
    assert np.isclose(router.probabilities([SPORT.text])["lead"].sum(), 1.0)


def test_taxonomy_diff_names_every_change(new_taxonomy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["taxonomy", "diff", str(TAXONOMY), str(new_taxonomy)]) == 0
    out = capsys.readouterr().out
    (sport, culture), merged = MERGED
    assert f"更名：{RENAMED[0]} → {RENAMED[1]}" in out
    assert f"合并：{culture}、{sport} → {merged}" in out
    assert "新增" not in out and "撤销" not in out
    assert main(["taxonomy", "diff", str(TAXONOMY), str(TAXONOMY)]) == 0
    assert "单位无变化" in capsys.readouterr().out
