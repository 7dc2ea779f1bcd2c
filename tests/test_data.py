from __future__ import annotations

from pathlib import Path

import pytest

from proposal_router.model.errors import DataError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.taxonomy import Taxonomy, load_taxonomy
from proposal_router.training.data import duty_examples, load_labelled
from tests.conftest import write_csv

TAXONOMY = Path(__file__).resolve().parents[1] / "data" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(TAXONOMY)


def test_defaults_load_every_head(train_csv: Path, taxonomy: Taxonomy) -> None:
    data = load_labelled(train_csv, ColumnMap(), taxonomy)
    assert data.heads == ["topic", "lead", "co"]
    assert data.labels["lead"] == ["市教育局", "市交通运输局", "市医疗保障局"]  # taxonomy order
    assert data.labels["co"] == ["市公安局", "市卫生健康委员会"]
    assert all(e.text.startswith("关于") for e in data.examples)


def test_office_columns_aliases_and_joined_text(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        {
            "编号": "1",
            "提案标题": "关于医保的提案",
            "现状": "异地就医难",
            "建议": "简化备案",
            "主题": "health",
            "主办": "医保局",
            "协办": "卫健委，市财政局",
        },
        {
            "编号": "2",
            "提案标题": "关于公交的提案",
            "现状": "线路少",
            "建议": "加密班次",
            "主题": "城乡建设",
            "主办": "市交通运输局",
            "协办": "",
        },
    ]
    columns = ColumnMap(id="编号", title=["提案标题"], body=["现状", "建议"], topic="主题", lead="主办", co="协办")
    data = load_labelled(write_csv(tmp_path / "o.csv", rows, "gbk"), columns, taxonomy)
    first = data.examples[0]
    assert first.text == "关于医保的提案\n异地就医难 简化备案"
    assert (first.topic, first.lead, first.co) == (
        "医疗卫生",
        "市医疗保障局",
        ["市卫生健康委员会", "市财政局"],
    )
    assert data.examples[1].co == []


def test_every_unknown_department_is_reported_with_row_and_column(
    tmp_path: Path, rows: list[dict[str, str]], taxonomy: Taxonomy
) -> None:
    rows[2]["lead_department"] = "市卫生健康委"
    rows[5]["co_departments"] = "市公安局、市宣传部"
    with pytest.raises(DataError) as info:
        load_labelled(write_csv(tmp_path / "t.csv", rows), ColumnMap(), taxonomy)
    text = str(info.value)
    assert "t.csv，第 4 行，「lead_department」列：unknown department '市卫生健康委'" in text
    assert "did you mean 市卫生健康委员会" in text
    assert "t.csv，第 7 行，「co_departments」列：unknown department '市宣传部'" in text


def test_missing_text_column_suggests_the_closest_names(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    renamed = [{("content" if k == "body" else k): v for k, v in r.items()} for r in rows]
    with pytest.raises(DataError, match=r"「body」列：找不到此列") as info:
        load_labelled(write_csv(tmp_path / "t.csv", renamed), ColumnMap(), None)
    assert "content" in str(info.value)


def test_no_label_column_at_all(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    unlabelled = [{k: r[k] for k in ("id", "title", "body")} for r in rows]
    with pytest.raises(DataError, match=r"「topic」列：找不到此列.*\n.*「lead_department」列：找不到此列"):
        load_labelled(write_csv(tmp_path / "t.csv", unlabelled), ColumnMap(), None)


def test_topic_only_file_trains_only_the_topic_head(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    topic_only = [{k: r[k] for k in ("id", "title", "body", "topic")} for r in rows]
    data = load_labelled(write_csv(tmp_path / "t.csv", topic_only), ColumnMap(), None)
    assert data.heads == ["topic"]


def test_empty_text_is_a_warning_and_duplicate_ids_are_skipped(
    tmp_path: Path, rows: list[dict[str, str]], taxonomy: Taxonomy
) -> None:
    rows[0]["title"] = rows[0]["body"] = ""
    rows[3]["id"] = rows[4]["id"]
    data = load_labelled(write_csv(tmp_path / "t.csv", rows), ColumnMap(), taxonomy)
    assert len(data.examples) == len(rows) - 2
    messages = [str(w) for w in data.warnings]
    assert any("第 2 行" in m and "标题和正文都为空" in m for m in messages)
    assert any("第 6 行" in m and f"编号 {rows[4]['id']} 重复（首次出现在第 5 行）" in m for m in messages)


def test_without_taxonomy_labels_come_from_the_data(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    rows[0]["lead_department"] = "某新部门"
    data = load_labelled(write_csv(tmp_path / "t.csv", rows), ColumnMap(), None)
    assert "某新部门" in data.labels["lead"]


def test_duty_statements_become_examples(taxonomy: Taxonomy) -> None:
    duties = duty_examples(taxonomy)
    assert len(duties) == 27
    assert duties[0].lead == "市发展和改革委员会" and duties[0].topic is None and duties[0].co is None


def test_several_files_train_together_and_each_names_its_own_rows(
    tmp_path: Path, rows: list[dict[str, str]], taxonomy: Taxonomy
) -> None:
    last_year = write_csv(tmp_path / "2026.csv", rows[:6])
    earlier = write_csv(tmp_path / "2025.csv", [{**r, "id": f"old-{r['id']}"} for r in rows[6:]])
    data = load_labelled([last_year, earlier], ColumnMap(), taxonomy)
    assert len(data.examples) == len(rows)
    assert [(Path(f.path).name, f.rows) for f in data.files] == [("2026.csv", 6), ("2025.csv", len(rows) - 6)]
    assert data.sha256 not in {f.sha256 for f in data.files}  # the pair has its own fingerprint
    assert load_labelled([earlier, last_year], ColumnMap(), taxonomy).sha256 != data.sha256
    bad = [dict(r) for r in rows[6:]]
    bad[1]["lead_department"] = "市不存在局"
    with pytest.raises(DataError) as info:
        load_labelled([last_year, write_csv(tmp_path / "bad.csv", bad), tmp_path / "absent.csv"], ColumnMap(), taxonomy)
    text = str(info.value)
    assert "bad.csv，第 3 行，「lead_department」列" in text and "absent.csv" in text and "找不到此文件" in text
