"""Cross-fitting and its components on small hand-made data: honest out-of-fold numbers, served as fitted."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from proposal_router.model.cases import CaseScorer, top_k_similarity
from proposal_router.model.errors import SetupError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.manifest import load_manifest
from proposal_router.model.mentions import MentionScorer
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal
from proposal_router.model.taxonomy import load_taxonomy
from proposal_router.model.text import view
from proposal_router.service.cli import main
from proposal_router.training.components import Corpus, fit_prior
from proposal_router.training.crossfit import cross_fit, fold_indices
from proposal_router.training.data import Example, load_labelled
from tests.conftest import REPO, make_rows, write_csv


def test_folds_are_stratified_disjoint_and_reproducible() -> None:
    strata = ["a"] * 20 + ["b"] * 10 + ["rare"] * 2
    folds = fold_indices(strata, 5, seed=0)
    held_out = np.concatenate([out for _, out in folds])
    assert sorted(held_out.tolist()) == list(range(32))
    for rows, out in folds:
        assert not set(rows) & set(out)
        assert sum(strata[i] == "a" for i in out) == 4 and sum(strata[i] == "b" for i in out) == 2
    assert all((a == c).all() for (a, _), (c, _) in zip(folds, fold_indices(strata, 5, seed=0), strict=True))
    with pytest.raises(SetupError, match="至少需要 5 行有标注的数据，现有 3 行"):
        fold_indices(["a", "b", "c"], 5, seed=0)


def test_out_of_fold_scores_never_see_the_row_they_score(tmp_path: Path) -> None:
    """With shuffled labels the text says nothing: out of fold, accuracy must fall to chance."""
    rows = make_rows(30)
    truth = load_labelled(write_csv(tmp_path / "t.csv", rows), ColumnMap(), None)
    honest = cross_fit(Corpus(truth.examples, truth.heads, truth.labels), ["baseline"], 5, 0)
    assert honest.scores["lead"]["baseline"] > 0.95
    leads = [r["lead_department"] for r in rows]
    random.Random(1).shuffle(leads)
    noise = load_labelled(
        write_csv(tmp_path / "n.csv", [{**r, "lead_department": d} for r, d in zip(rows, leads, strict=True)]),
        ColumnMap(),
        None,
    )
    result = cross_fit(Corpus(noise.examples, noise.heads, noise.labels), ["baseline"], 5, 0)
    assert result.scores["lead"]["baseline"] < 0.55  # chance is 1/3; a model scoring its own rows gets ~1
    assert result.probs["lead"].shape == (90, 3)


def test_train_cross_fits_every_row_and_records_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(20))
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]) == 0
    assert "交叉拟合样本外主办单位准确率" in capsys.readouterr().out
    manifest = load_manifest(tmp_path / "m")
    assert manifest.training_data.splits == {"cross-fitted": 60, "held-out test": 0}
    assert manifest.crossfit is not None and manifest.crossfit.folds == 5 and manifest.crossfit.rows == 60
    assert manifest.metrics["source"] == "out-of-fold" and manifest.metrics["lead_department"]["n"] == 60
    report = (tmp_path / "m" / "training" / "evaluation" / "report.md").read_text("utf-8")
    assert report.startswith(f"# {data} 全部 60 行的交叉拟合（5 折）袋外预测\n\n## 概要")
    assert manifest.components[0] == "baseline" and "mentions" not in manifest.components  # no taxonomy


def test_holdout_keeps_a_true_test_split(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(20))
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]
    assert main([*argv, "--holdout", "0.25", "--taxonomy", "none"]) == 0
    manifest = load_manifest(tmp_path / "m")
    assert manifest.training_data.splits == {"cross-fitted": 45, "held-out test": 15}
    assert manifest.metrics["source"] == "held-out" and manifest.metrics["lead_department"]["n"] == 15
    assert manifest.metrics["out_of_fold"]["lead_department"]["n"] == 45
    held_out = (tmp_path / "m" / "training" / "evaluation" / "held-out" / "report.md").read_text("utf-8")
    assert held_out.startswith(f"# {data} 的留出测试集\n")


def test_unavailable_component_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(10))
    argv = ["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]
    assert main([*argv, "--components", "cases"]) == 2
    assert "这些组件在此数据和模型下不可用：cases（可用：baseline、mentions、prior）" in capsys.readouterr().err


def test_the_demo_stack_uses_the_taxonomy_and_serves_what_it_fitted(tmp_path: Path) -> None:
    rows = make_rows(12)
    rows[0]["body"] += "建议市公安局加强巡查。"
    data = write_csv(tmp_path / "t.csv", rows)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--model-type", "baseline"]) == 0
    manifest = load_manifest(tmp_path / "m")
    assert set(manifest.components) <= {"baseline", "mentions", "prior"} and "baseline" in manifest.components
    for spec in manifest.heads.values():
        assert set(spec.weights) <= set(manifest.components) and all(w > 0 for w in spec.weights.values())
    (result,) = Router(tmp_path / "m").route([Proposal(title=rows[0]["title"], body=rows[0]["body"])])
    assert result.lead_department is not None and result.lead_department.name == rows[0]["lead_department"]
    assert result.lead_department.name not in {c.name for c in result.co_departments}


def test_mentions_find_names_and_aliases() -> None:
    taxonomy = load_taxonomy(REPO / "data" / "taxonomy.yaml")
    names = {d.name: [d.name, *d.aliases] for d in taxonomy.departments}
    scorer = MentionScorer(names, {"co": ["市公安局", "市教育局", "市卫生健康委员会"]})
    (row,) = scorer.logits(["建议教育部门会同公安机关加强校园周边治理，有关部门配合。"])["co"]
    assert row.tolist() == [1.0, 1.0, 0.0]


def test_case_similarity_is_the_mean_of_the_k_nearest_members() -> None:
    similarity = np.array([[0.9, 0.5, 0.7, 0.1]])
    members = np.array([[1, 0], [1, 0], [1, 1], [0, 0]], dtype=bool)
    assert top_k_similarity(similarity, members, k=2).tolist() == [[pytest.approx(0.8), 0.7]]
    scorer = CaseScorer(np.eye(3)[:2], {"lead": np.array([[True], [False]])}, k=1)
    assert scorer.logits(np.array([[2.0, 0.0, 0.0]]))["lead"].tolist() == [[pytest.approx(1.0)]]


def test_prior_is_the_smoothed_share_of_topics_and_co_departments_per_lead() -> None:
    examples = [
        Example(id="1", text="a", topic="教育", lead="教育局", co=["公安局"]),
        Example(id="2", text="b", topic="教育", lead="教育局", co=[]),
        Example(id="3", text="c", topic="交通", lead="交通局", co=["公安局"]),
    ]
    labels = {"topic": ["教育", "交通"], "lead": ["教育局", "交通局"], "co": ["公安局"]}
    prior = fit_prior(Corpus(examples, ["topic", "lead", "co"], labels), np.arange(3))
    assert prior.tables["topic"].tolist() == [[3 / 4, 1 / 4], [1 / 3, 2 / 3]]  # add-one
    assert prior.tables["co"].tolist() == [[1.5 / 3], [1.5 / 2]]  # add-half over two outcomes
    logits = prior.logits(np.array([[1.0, 0.0]]))
    assert np.exp(logits["topic"]).tolist() == [[pytest.approx(3 / 4), pytest.approx(1 / 4)]]


def test_views_take_the_title_and_the_ask() -> None:
    text = "关于校园安全的提案\n我市学校周边交通拥堵，存在安全隐患。建议：一是增设护学岗；二是完善限速标志。"
    assert view(text, "text") == text
    assert view(text, "title") == "关于校园安全的提案"
    assert view(text, "ask") == "建议：一是增设护学岗；二是完善限速标志。"
    assert view("没有标题的一段文字，建议在前面出现。后面是一些说明的内容", "title") == ""
    assert view("标题\n一二三四五六七八九十", "ask") == "六七八九十"  # no 建议: the second half of the body
