"""预审 of form: each rule warns on the filing it describes and stays quiet on a proposal written as usual."""

from __future__ import annotations

from pathlib import Path

from proposal_router.model.intake.records import ColumnMap, read_proposals
from proposal_router.model.intake.tables import read_table
from proposal_router.model.quality import QualityCode, ask_items, check_form, several_asks

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
PROPER = (
    "我市现有慈善组织186家，但规模普遍较小，专业人才缺乏，项目运作能力不强；部分网络求助平台信息审核不严，"
    "出现诈捐骗捐事件，损害公众信任。建议：一是培育一批枢纽型慈善组织，支持设立社区慈善基金；二是加强慈善组织"
    "信息公开和年度检查；三是规范网络慈善，引导群众通过合规平台开展募捐和求助。"
)


def codes(title: str, body: str) -> set[QualityCode]:
    return {w.code for w in check_form(title, body)}


def test_a_proposal_in_the_usual_form_gets_no_warning() -> None:
    assert codes("关于推动慈善事业规范健康发展的提案", PROPER) == set()
    assert ask_items(PROPER)[0].startswith("培育一批枢纽型慈善组织")
    assert len(ask_items(PROPER)) == 3


def test_each_rule_names_what_to_change() -> None:
    short = check_form("关于加强管理的提案", "建议加强管理。")
    assert {w.code for w in short} == {QualityCode.TOO_SHORT, QualityCode.VAGUE_ASK}
    assert "正文仅7字" in short[0].message
    praise = "过去一年我市经济社会发展成绩显著，群众获得感不断增强，作为一名政协委员我深感自豪。" * 3
    assert codes("关于我市发展成就的几点感想", praise) == {QualityCode.NO_ASK, QualityCode.TITLE_FORM}
    vague = PROPER.split("建议：")[0] + "建议：有关部门高度重视，认真研究，切实把这项工作抓紧抓好抓出成效。"
    assert codes("关于推动慈善事业规范健康发展的提案", vague) == {QualityCode.VAGUE_ASK}


def test_asks_far_from_the_title_are_several_matters() -> None:
    def cosine(a: str, b: str) -> float:  # characters in common: enough to tell a charity ask from a road
        return len(set(a) & set(b)) / max(len(set(b)), 1) - 0.5

    roads = "三是拓宽城西快速路并增设公交港湾；四是延长地铁三号线运营时间；五是规范网络慈善"
    mixed = PROPER.replace("三是规范网络慈善", roads)
    warning = several_asks("关于推动慈善事业规范健康发展的提案", mixed, cosine)
    assert warning is not None and warning.code == QualityCode.SEVERAL_ASKS
    assert "拓宽城西快速路" in warning.message and "一事一案" in warning.message
    assert several_asks("关于推动慈善事业规范健康发展的提案", PROPER, cosine) is None


def test_the_demo_proposals_rarely_get_a_warning() -> None:
    rows, _ = read_proposals(read_table(DEMO / "train.csv"), ColumnMap())
    warned = [r for r in rows if check_form(r.proposal.title, r.proposal.body)]
    assert len(warned) / len(rows) < 0.01
