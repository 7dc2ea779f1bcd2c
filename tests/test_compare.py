"""`compare` as an analyst runs it before switching bundles: both bundles' answers on the same labelled data.

The current bundle here learned two departments swapped (last year's 市教育局 proposals filed under
市交通运输局 and the reverse), so switching to a bundle trained on the right labels must show those
proposals as changed and put right, and the way back as changed and put wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal
from proposal_router.service.cli import main
from tests.conftest import CO_OF, SUBJECTS, TOPIC_OF, make_rows, write_csv

SWAP = {"市教育局": "市交通运输局", "市交通运输局": "市教育局"}


def _train(directory: Path, rows: list[dict[str, str]]) -> Path:
    data = write_csv(directory.with_suffix(".csv"), rows)
    argv = ["train", "--data", str(data), "--out", str(directory), "--model-type", "baseline", "--taxonomy", "none"]
    assert main(argv) == 0
    return directory


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(right, swapped): one bundle trained on the true labels, one on labels with two departments swapped."""
    work = tmp_path_factory.mktemp("compare")
    rows = make_rows(20)
    swapped = [{**r, "lead_department": SWAP.get(r["lead_department"], r["lead_department"])} for r in rows]
    return _train(work / "right", rows), _train(work / "swapped", swapped)


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("held") / "held.csv", make_rows(4, seed=9))


def _compare(new: Path, current: Path, data: Path, out: Path) -> int:
    argv = ["compare", "--model", str(new), "--against", str(current), "--data", str(data), "--out", str(out)]
    return main([*argv, "--taxonomy", "none"])


def _sheet(path: Path, name: str) -> list[list[Any]]:
    book = load_workbook(path, read_only=True)
    return [list(row) for row in book[name].iter_rows(values_only=True)]


def _leads(bundle: Path, rows: list[dict[str, str]]) -> dict[str, str]:
    router = Router(bundle)
    results = router.route([Proposal(id=r["id"], title=r["title"], body=r["body"]) for r in rows])
    return {r.id or "": r.lead_department.name for r in results if r.lead_department is not None}


def test_switching_to_the_right_bundle_shows_the_swapped_proposals_put_right(
    bundles: tuple[Path, Path], held: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right, swapped = bundles
    out = tmp_path / "out"
    assert _compare(right, swapped, held, out) == 0
    printed = capsys.readouterr().out
    rows = make_rows(4, seed=9)
    gold = {r["id"]: r["lead_department"] for r in rows}
    new, current = _leads(right, rows), _leads(swapped, rows)
    differ = {i for i in gold if new[i] != current[i]}
    assert len(differ) >= 6  # most of the 8 教育/交通 proposals: the swapped bundle learned the swap
    assert {gold[i] for i in differ} <= set(SWAP)

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    changes = {c["id"]: c for c in metrics["changes"]}
    assert set(changes) == differ
    for i, change in changes.items():
        assert (change["gold_lead"], change["current"]["lead"], change["new"]["lead"]) == (gold[i], current[i], new[i])
        expected = "fixed" if new[i] == gold[i] else "broken" if current[i] == gold[i] else "both_wrong"
        assert change["verdict"] == expected
    fixed = sum(c["verdict"] == "fixed" for c in changes.values())
    assert metrics["verdicts"]["fixed"] == fixed >= 6
    assert metrics["new"]["lead_accuracy"] == pytest.approx(sum(new[i] == gold[i] for i in gold) / 12)
    assert metrics["current"]["lead_accuracy"] == pytest.approx(sum(current[i] == gold[i] for i in gold) / 12)
    assert metrics["new"]["lead_accuracy"] > metrics["current"]["lead_accuracy"]

    assert f"答案变化 {len(differ)} 件：改对 {fixed}，改错 {metrics['verdicts']['broken']}" in printed
    assert f"新模型主办单位准确率 {metrics['new']['lead_accuracy']:.3f}" in printed

    workbook = out / "compare.xlsx"
    assert load_workbook(workbook, read_only=True).sheetnames == ["汇总", "各单位", "变化的提案"]
    changed = _sheet(workbook, "变化的提案")
    assert changed[0][:4] == ["编号", "提案标题", "正确的主办单位", "现用模型主办单位"] and changed[0][-1] == "哪个对"
    titles = {r["id"]: r["title"] for r in rows}
    assert {row[0] for row in changed[1:]} == differ
    for row in changed[1:]:
        assert row[1] == titles[row[0]] and row[2] == gold[row[0]]
        assert (row[3], row[6]) == (current[row[0]], new[row[0]])
        assert isinstance(row[4], float) and isinstance(row[7], float)
        assert row[5].startswith(("自动交办", "人工复核")) and row[9] in {"新模型对", "现用模型对", "都不对"}
    assert [row[9] for row in changed[1 : fixed + 1]] == ["新模型对"] * fixed  # nothing put wrong: the fixed first

    summary = {row[0]: row[1:4] for row in _sheet(workbook, "汇总") if row and row[0]}
    assert summary["主办单位准确率"][:2] == [
        pytest.approx(metrics["current"]["lead_accuracy"]),
        pytest.approx(metrics["new"]["lead_accuracy"]),
    ]
    assert summary["主办单位变化的提案"][0] == len(differ)

    departments = {row[0]: row for row in _sheet(workbook, "各单位")[1:]}
    education = departments["市教育局"]
    assert education[1] == 4  # its own proposals in the held-out data
    assert education[2] == pytest.approx(sum(current[i] == "市教育局" for i in gold if gold[i] == "市教育局") / 4)
    assert education[3] == pytest.approx(sum(new[i] == "市教育局" for i in gold if gold[i] == "市教育局") / 4)
    assert (education[5], education[6]) == (
        sum(v == "市教育局" for v in current.values()),
        sum(v == "市教育局" for v in new.values()),
    )

    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## 主办单位变化的提案" in report and f"主办单位变化的提案 {len(differ)} 件：改对 {fixed} 件" in report


def test_the_way_back_is_told_as_put_wrong(bundles: tuple[Path, Path], held: Path, tmp_path: Path) -> None:
    right, swapped = bundles
    assert _compare(swapped, right, held, tmp_path / "back") == 0
    metrics = json.loads((tmp_path / "back" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["verdicts"]["broken"] >= 6 and metrics["verdicts"]["fixed"] == 0
    changed = _sheet(tmp_path / "back" / "compare.xlsx", "变化的提案")[1:]
    assert changed[0][9] == "现用模型对"  # what would be put wrong comes first


def test_a_bundle_against_itself_changes_nothing(
    bundles: tuple[Path, Path], held: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right, _ = bundles
    assert _compare(right, right, held, tmp_path / "same") == 0
    assert "答案变化 0 件：改对 0，改错 0，都不对 0" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "same" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["new"] == metrics["current"] and metrics["changes"] == []
    assert _sheet(tmp_path / "same" / "compare.xlsx", "变化的提案")[1:] == []
    report = (tmp_path / "same" / "report.md").read_text(encoding="utf-8")
    assert "没有：两个模型对每件提案给出的主办单位都相同" in report


def test_a_missing_or_wrong_bundle_names_its_flag(
    bundles: tuple[Path, Path], held: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right, _ = bundles
    assert _compare(right, tmp_path / "nowhere", held, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "现用模型目录" in err and "不存在" in err and "--against" in err
    (tmp_path / "empty").mkdir()
    assert _compare(tmp_path / "empty", right, held, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "不是模型目录" in err and "--model" in err
    assert not (tmp_path / "out").exists()


def test_a_proposal_without_a_gold_lead_is_told_unlabelled(
    bundles: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right, swapped = bundles
    rows = make_rows(4, seed=9)
    blank = next(r for r in rows if r["lead_department"] == "市教育局")
    blank["lead_department"] = ""
    data = write_csv(tmp_path / "partly.csv", rows)
    assert _compare(right, swapped, data, tmp_path / "out") == 0
    captured = capsys.readouterr()
    assert "主办单位为空" in captured.err and "，无标注 1" in captured.out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == 12 and metrics["n_lead"] == 11 and metrics["verdicts"]["unlabelled"] == 1
    row = next(r for r in _sheet(tmp_path / "out" / "compare.xlsx", "变化的提案") if r[0] == blank["id"])
    assert row[2] is None and row[9] == "无标注"
    summary = {r[0]: r[1] for r in _sheet(tmp_path / "out" / "compare.xlsx", "汇总") if r and r[0]}
    assert summary["　其中无标注"] == 1 and summary["有主办单位标注的"] == 11


def test_a_renamed_department_is_no_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The current bundle learned 市教育局, the new one its successor 市教育体育局 (机构改革): compared
    with the new taxonomy, both answer in the new name, so a proposal is changed only if the lead moved."""
    from proposal_router.model.taxonomy import Department, Taxonomy, Topic, save_taxonomy

    topics = [Topic(key=f"t{i}", name=name) for i, name in enumerate(sorted(set(TOPIC_OF.values())))]
    names = sorted({*SUBJECTS, *(c for co in CO_OF.values() for c in co)})
    before = Taxonomy(version="1", topics=topics, departments=[Department(name=n) for n in names])
    renamed = [
        Department(name="市教育体育局", former_names=["市教育局"]) if n == "市教育局" else Department(name=n)
        for n in names
    ]
    after = Taxonomy(version="2", topics=topics, departments=renamed)
    save_taxonomy(before, tmp_path / "before.yaml")
    save_taxonomy(after, tmp_path / "after.yaml")
    rows = make_rows(20)
    for name, path in (("old", "before.yaml"), ("new", "after.yaml")):
        data = write_csv(tmp_path / f"{name}.csv", rows)
        argv = ["train", "--data", str(data), "--out", str(tmp_path / name), "--model-type", "baseline"]
        assert main([*argv, "--taxonomy", str(tmp_path / path)]) == 0
    held = write_csv(tmp_path / "held.csv", make_rows(4, seed=9))
    capsys.readouterr()
    argv = ["compare", "--model", str(tmp_path / "new"), "--against", str(tmp_path / "old"), "--data", str(held)]
    assert main([*argv, "--out", str(tmp_path / "out"), "--taxonomy", str(tmp_path / "after.yaml")]) == 0
    assert "市教育局 → 市教育体育局" in capsys.readouterr().err  # the current bundle is served in the new names
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    departments = {d["department"]: d for d in metrics["departments"]}
    assert "市教育局" not in departments and departments["市教育体育局"]["proposals"] == 4
    assert departments["市教育体育局"]["current_accuracy"] == departments["市教育体育局"]["new_accuracy"] == 1.0
    assert metrics["current"]["lead_accuracy"] == metrics["new"]["lead_accuracy"] == 1.0
    assert metrics["changes"] == []
