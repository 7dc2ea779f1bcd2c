"""The command line as a user runs it: every bad input gets a clear message and exit code 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from proposal_router.model.intake.tables import read_table
from proposal_router.service import workbook
from proposal_router.service.cli import HANDLERS, main
from tests.conftest import make_rows, write_csv


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli")
    data = write_csv(work / "train.csv", make_rows(20))
    assert main(["train", "--data", str(data), "--out", str(work / "model"), "--model-type", "baseline"]) == 0
    return work / "model"


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_train_writes_bundle_and_evaluation(bundle: Path) -> None:
    assert (bundle / "manifest.json").is_file()
    metrics = json.loads((bundle / "training" / "evaluation" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["lead_department"]["accuracy"] >= 0.9
    for name in ("report.md", "confusion_lead.png", "reliability.png", "risk_coverage.png"):
        assert (bundle / "training" / "evaluation" / name).stat().st_size > 0


def test_train_on_last_years_export_and_an_earlier_year(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows(20)
    last_year, earlier = write_csv(tmp_path / "2026.csv", rows[:30]), write_csv(tmp_path / "2025.csv", rows[30:])
    argv = ["train", "--data", str(last_year), str(earlier), "--out", str(tmp_path / "m"), "--model-type", "baseline"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{last_year}：30 件提案" in err and f"{earlier}：{len(rows) - 30} 件提案" in err
    data = json.loads((tmp_path / "m" / "manifest.json").read_text(encoding="utf-8"))["training_data"]
    assert data["file"] == "2026.csv、2025.csv" and data["rows"] == len(rows)
    assert [(f["file"], f["rows"]) for f in data["files"]] == [("2026.csv", 30), ("2025.csv", len(rows) - 30)]


def test_a_bundle_that_cannot_show_a_safe_threshold_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "few.csv", make_rows(5))  # 15 rows: too few correct ones to prove 95%
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]) == 0
    out = capsys.readouterr().out
    assert "模型的验证数据不足以证明自动交办可达到95%精度，全部人工复核" in out and "1.010" not in out


def test_train_reports_unknown_department(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows(5)
    rows[1]["lead_department"] = "市宣传局"
    data = write_csv(tmp_path / "bad.csv", rows)
    err = _fails(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"], capsys)
    assert "bad.csv，第 3 行，「lead_department」列：unknown department '市宣传局'" in err
    assert not (tmp_path / "m").exists()


def test_train_reports_missing_column_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    err = _fails(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--body-field", "提案内容"], capsys)
    assert "「提案内容」列：找不到此列" in err and "（请用 --body-field 指定列名）" in err
    err = _fails(["train", "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m")], capsys)
    assert "absent.csv：找不到此文件" in err


def test_unloadable_base_model_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--taxonomy", "none"]
    err = _fails([*argv, "--base-model", "someone/not-cached-model"], capsys)
    assert "既不是本地模型目录，也不在本地缓存中" in err
    err = _fails([*argv, "--base-model", str(tmp_path)], capsys)
    assert "不是模型目录（没有 config.json）" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.partial").exists()


def test_transformer_without_base_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    err = _fails(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--taxonomy", "none"], capsys)
    assert "预训练模型（本地目录）（请用 --base-model 指定）" in err


def _office_intake(tmp_path: Path) -> list[str]:
    """An office's GB18030 sheet with an empty row (its 3rd line) and a repeated id (its 6th line)."""
    rows = [{"编号": r["id"], "标题": r["title"], "内容": r["body"]} for r in make_rows(3)]
    rows[1]["标题"] = rows[1]["内容"] = ""
    rows[4]["编号"] = rows[3]["编号"]
    source = write_csv(tmp_path / "intake.csv", rows, "gb18030")
    return ["--input", str(source), "--id-field", "编号", "--title-field", "标题", "--body-field", "内容"]


def test_route_skips_bad_rows_and_routes_the_rest(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "routed.csv"
    assert main(["route", "--model", str(bundle), "--output", str(out), *_office_intake(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "已交办 7 件提案" in captured.out and "2 行未交办" in captured.out
    assert "intake.csv，第 3 行，「标题/内容」列：标题和正文都为空" in captured.err
    routed = read_table(out)
    assert len(routed.rows) == 7
    assert routed.columns[:3] == ["编号", "标题", "内容"]
    assert {r["route_decision"] for r in routed.rows} <= {"auto", "review"}
    assert all(r["route_lead_department"] and r["route_top3_candidates"] for r in routed.rows)
    rejected = read_table(tmp_path / "routed.rejected.csv")
    assert [r["row"] for r in rejected.rows] == ["3", "6"]


def test_route_rejects_a_5_mb_cell_and_routes_the_rest(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"编号": r["id"], "标题": r["title"], "内容": r["body"]} for r in make_rows(2)]
    rows[2]["内容"] = "附" * 5_000_000
    size = len(rows[2]["标题"]) + 5_000_000
    source, out = write_csv(tmp_path / "intake.csv", rows), tmp_path / "routed.csv"
    columns = ["--id-field", "编号", "--title-field", "标题", "--body-field", "内容"]
    assert main(["route", "--model", str(bundle), "--input", str(source), "--output", str(out), *columns]) == 0
    err = capsys.readouterr().err
    assert f"intake.csv，第 4 行，「标题/内容」列：正文共 {size:,} 字，超过 20,000 字的上限" in err
    assert [r["编号"] for r in read_table(out).rows] == [r["编号"] for i, r in enumerate(rows) if i != 2]


def test_a_cell_too_long_for_excel_is_cut_in_the_workbook(bundle: Path, tmp_path: Path) -> None:
    rows = [{"编号": r["id"], "标题": r["title"], "内容": r["body"], "附件": "附" * 40_000} for r in make_rows(1)]
    source, out = write_csv(tmp_path / "intake.csv", rows), tmp_path / "交办.xlsx"
    columns = ["--id-field", "编号", "--title-field", "标题", "--body-field", "内容"]
    assert main(["route", "--model", str(bundle), "--input", str(source), "--output", str(out), *columns]) == 0
    attachments = [r["附件"] for r in read_table(out, "交办结果").rows]
    assert attachments and all(
        len(a) == workbook.EXCEL_CELL_LIMIT and a.endswith(workbook.CLIPPED) for a in attachments
    )


def test_route_to_xlsx_writes_the_office_workbook(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import load_workbook

    out, split = tmp_path / "交办.xlsx", tmp_path / "departments"
    argv = ["route", "--model", str(bundle), "--output", str(out), "--split-by-department", str(split)]
    assert main([*argv, *_office_intake(tmp_path)]) == 0
    book = load_workbook(out)
    assert book.sheetnames == ["交办结果", "交办结果（打印）", "汇总", "未处理行"]
    results = read_table(out, "交办结果")
    assert results.columns == ["编号", "标题", "内容", *workbook.RESULT_HEADERS, workbook.SIMILAR_HEADER]
    assert len(results.rows) == 7 and {r["处理方式"] for r in results.rows} <= {"自动交办", "人工复核"}
    assert all(r["候选单位(前三)"].count("(") == 3 for r in results.rows)
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row and row[0]}
    assert summary["提案总数"] == 9 and summary["未能处理的行"] == 2
    assert summary["已交办（自动）"] + summary["转人工复核"] == 7
    leads = Counter(r["建议主办单位"] for r in results.rows)
    assert all(summary[name] == count for name, count in leads.items())
    assert len(book["汇总"]._charts) == 1
    assert [r[1] for r in book["未处理行"].iter_rows(min_row=2, values_only=True)] == [3, 6]
    files = sorted(p.stem for p in split.glob("*.xlsx"))
    assert files == sorted(workbook.department_file_name(n) for n in leads)
    assert sum(len(read_table(p).rows) for p in split.glob("*.xlsx")) == 7
    assert f"{len(files)} 个单位的清单" in capsys.readouterr().out


def test_result_columns_never_overwrite_the_offices_own() -> None:
    assert workbook.result_headers(["编号", "主题"])[:3] == ["建议主办单位", "建议协办单位", "主题（建议）"]
    assert workbook.department_file_name("市住房/城乡 建设局") == "市住房_城乡_建设局"


def test_route_rejects_unknown_output_type(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", make_rows(1))
    err = _fails(["route", "--model", str(bundle), "--input", str(source), "--output", str(tmp_path / "o.pdf")], capsys)
    assert "不支持 .pdf 文件" in err


def test_predict_from_argument_and_stdin(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["predict", "--model", str(bundle), "--title", "关于公交线路的提案", "建议增加公交线路和站台"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lead_department"]["name"] == "市交通运输局"
    assert result["decision"] in ("auto", "review") and len(result["candidates"]) == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("建议完善医保异地就医结算，扩大门诊统筹报销范围"))
    assert main(["predict", "--model", str(bundle)]) == 0
    assert json.loads(capsys.readouterr().out)["lead_department"]["name"] == "市医疗保障局"
    monkeypatch.setattr("sys.stdin", io.StringIO("  "))
    assert "提案文本为空" in _fails(["predict", "--model", str(bundle)], capsys)


def test_short_text_goes_to_review(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--model", str(bundle), "公交"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] == "review" and result["reason"]["code"] == "text_too_short"


def test_evaluate_writes_metrics(bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "held.csv", make_rows(4, seed=9))
    assert main(["evaluate", "--model", str(bundle), "--data", str(data), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["lead_department"]["n"] == 12
    assert {"accuracy", "macro_f1", "top3_accuracy"} <= set(metrics["lead_department"])
    assert {"threshold", "auto_precision", "coverage"} <= set(metrics["routing"])
    assert "ece" in metrics["calibration"] and "micro_f1" in metrics["co_departments"]


def test_not_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["predict", "--model", str(tmp_path), "关于公交线路的提案"], capsys)
    assert "不是模型目录（没有 manifest.json）" in err


def test_train_never_overwrites_a_folder_that_is_not_a_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    err = _fails(["train", "--data", str(data), "--out", str(precious), "--model-type", "baseline"], capsys)
    assert "已存在且不是模型包，不会覆盖它（请用 --out 指定）" in err
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_retraining_replaces_an_old_bundle(bundle: Path, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    target = tmp_path / "model"
    for _ in range(2):
        assert main(["train", "--data", str(data), "--out", str(target), "--model-type", "baseline"]) == 0
    assert (target / "manifest.json").is_file() and not (tmp_path / "model.partial").exists()


def test_an_unknown_encoder_in_the_environment_is_a_clear_error(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROPOSAL_ROUTER_ENCODER", "fp16")
    err = _fails(["predict", "--model", str(bundle), "建议增加公交线路"], capsys)
    assert "环境变量 PROPOSAL_ROUTER_ENCODER 的值 'fp16' 不可用" in err


def test_training_command_without_the_training_extra_says_what_to_install(tmp_path: Path) -> None:
    """A serving install has no scikit-learn or torch: `train` says which extra to install, exit 2."""
    blocked = "import sys; sys.modules.update({m: None for m in ('sklearn', 'torch', 'transformers')})"
    run = f"{blocked}; from proposal_router.service.cli import main; sys.exit(main(sys.argv[1:]))"
    data = tmp_path / "t.csv"
    data.write_text("id,title,body,lead_department\n1,标题,正文,市教育局\n", encoding="utf-8")
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]
    done = subprocess.run([sys.executable, "-c", run, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "pip install 'proposal-router[train]'" in done.stderr and "Traceback" not in done.stderr


def test_a_bug_is_a_traceback_not_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the user's mistakes are exit 2: a KeyError from our own code must surface as itself."""

    def broken(*_: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setitem(HANDLERS, "db", broken)
    with pytest.raises(KeyError):
        main(["db", "upgrade"])


def test_training_flags_come_from_train_config(capsys: pytest.CaptureFixture[str]) -> None:
    """Bounds are TrainConfig's: --max-length 1000 is refused naming the flag, before anything is read."""
    assert main(["train", "--data", "absent.csv", "--out", "x", "--max-length", "1000"]) == 2
    assert "应不大于 512（请用 --max-length 指定）" in capsys.readouterr().err


def test_route_names_the_earlier_filings_each_could_be_merged_with(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import OFFICE_COLUMNS, REPO

    with (REPO / "data" / "demo" / "train.csv").open(encoding="utf-8") as fh:
        past = list(csv.DictReader(fh))[:200]
    history = write_csv(tmp_path / "2025.csv", past)
    with (REPO / "data" / "demo" / "intake_labelled.csv").open(encoding="utf-8") as fh:
        intake = list(csv.DictReader(fh))[:6]
    rows = [{"编号": r["id"], "提案标题": r["title"], "提案内容": r["body"]} for r in intake]
    rows.append({"编号": "2026-901", "提案标题": intake[1]["title"], "提案内容": intake[1]["body"] + "！"})
    rows.append({"编号": "2026-902", "提案标题": past[7]["title"], "提案内容": past[7]["body"]})
    source = write_csv(tmp_path / "intake.csv", rows)
    out = tmp_path / "routed.csv"
    argv = ["route", "--model", str(bundle), "--input", str(source), "--output", str(out), *OFFICE_COLUMNS]
    assert main([*argv, "--history", str(history)]) == 0
    assert "往年 200 件提案" in capsys.readouterr().err
    similar = {r["编号"]: json.loads(r["route_similar"]) for r in read_table(out).rows}
    assert similar["2026-901"][0] == {"id": intake[1]["id"], "similarity": 1.0}  # the same text, a new id
    assert similar["2026-902"][0] == {"id": past[7]["id"], "similarity": 1.0}  # filed in an earlier year
    assert all(m["id"] not in {"2026-901", "2026-902"} for r in similar.values() for m in r)  # only earlier ones
    assert similar[intake[0]["id"]] == [] or all(m["similarity"] >= 0.2 for m in similar[intake[0]["id"]])

    jsonl, xlsx = tmp_path / "routed.jsonl", tmp_path / "routed.xlsx"
    assert main([*argv[:6], str(jsonl), *OFFICE_COLUMNS, "--history", str(history)]) == 0
    line = next(json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines() if "2026-902" in x)
    assert line["route_similar"][0] == {"id": past[7]["id"], "similarity": 1.0}
    assert main([*argv[:6], str(xlsx), *OFFICE_COLUMNS]) == 0  # no history: earlier rows of the file only
    results = {r["编号"]: r for r in read_table(xlsx, "交办结果").rows}
    assert results["2026-901"]["可并案"].startswith(f"{intake[1]['id']}（1.00）")
    assert results["2026-902"]["可并案"] == ""
