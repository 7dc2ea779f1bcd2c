"""审查立案 flags learned from the demo's rejected filings: flagged with ground and evidence, never on their own
a rejection; a route of a bundle trained with rejections sends a flagged filing to review, first of reasons."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from proposal_router.model.errors import DataError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal, ReasonCode
from proposal_router.model.screening import Ground, Screener, sentences
from proposal_router.training.config import TrainConfig
from proposal_router.training.data import load_labelled
from proposal_router.training.pipeline import train_bundle
from proposal_router.training.screening import fit_screener, load_rejections

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def demo(name: str) -> list[dict[str, str]]:
    with (DEMO / name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def text(row: dict[str, str]) -> str:
    return f"{row['title']}\n{row['body']}"


@pytest.fixture(scope="module")
def screener(tmp_path_factory: pytest.TempPathFactory) -> Screener:
    out = tmp_path_factory.mktemp("screening")
    rejected = load_rejections([str(DEMO / "rejections.csv")], ColumnMap())
    assert len(rejected) == 60 and {r.ground for r in rejected} == set(Ground)
    proper = [text(r) for r in demo("train.csv")[:400]]
    info = fit_screener(proper, rejected, out)
    assert info.labels[0] == "proper" and 0.5 <= info.threshold < 1.0
    return Screener(out, info)


def test_filings_not_to_accept_are_flagged_with_ground_and_sentence(screener: Screener) -> None:
    intake = demo("prescreen.csv")
    bad = [r for r in intake if r["ground"]]
    flags = screener.flags([text(r) for r in bad])
    flagged = [f for f in flags if f]
    assert len(flagged) / len(bad) >= 0.6
    right = sum(f[0].code == r["ground"] for f, r in zip(flags, bad, strict=True) if f)
    assert right / len(flagged) >= 0.6
    for found, row in zip(flags, bad, strict=True):
        for flag in found:
            assert flag.evidence in sentences(text(row)) or flag.evidence == text(row)[:200]
            assert flag.message.startswith("可能") and "审查是否立案" in flag.message


def test_proper_proposals_are_rarely_flagged(screener: Screener) -> None:
    proper = demo("intake_labelled.csv") + [r for r in demo("prescreen.csv") if not r["ground"]]
    flags = screener.flags([text(r) for r in proper])
    assert sum(bool(f) for f in flags) / len(proper) <= 0.05


def test_an_unknown_ground_names_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "rejected.csv"
    path.write_text("id,title,body,ground\n1,关于某事的提案,正文,personal\n2,关于另一事的提案,正文,涉密\n", "utf-8")
    with pytest.raises(DataError) as caught:
        load_rejections([str(path)], ColumnMap())
    (issue,) = caught.value.issues
    assert (issue.file, issue.row, issue.column) == (str(path), 3, "ground")
    assert "未知的不予立案理由" in issue.message and "personal" in issue.message


def test_a_flagged_filing_goes_to_review_before_any_other_reason(tmp_path: Path) -> None:
    data = load_labelled([str(DEMO / "train.csv")], ColumnMap(), None)
    data.examples = data.examples[:300]
    rejected = load_rejections([str(DEMO / "rejections.csv")], ColumnMap())
    config = TrainConfig(model_type="baseline", folds=3)
    manifest = train_bundle(data, None, tmp_path / "bundle", config, rejected=rejected)
    assert manifest.screening is not None and manifest.screening.metrics["rows_rejected"] == 60
    router = Router(tmp_path / "bundle")
    personal = next(r for r in demo("prescreen.csv") if r["ground"] == "personal")
    proper = demo("intake_labelled.csv")[0]
    flagged, fine = router.route([Proposal(title=r["title"], body=r["body"]) for r in (personal, proper)])
    assert [f.code for f in flagged.screening] == [Ground.PERSONAL]
    assert flagged.decision == "review" and flagged.reason is not None
    assert flagged.reason.code == ReasonCode.SCREENING_FLAG and "个人或亲属的求决事项" in flagged.reason.message
    assert fine.screening == [] and (fine.reason is None or fine.reason.code != ReasonCode.SCREENING_FLAG)
