"""The 并案 index: the same ask in other words scores high, another ask on the same topic low, an exact
repeat is always found, and only earlier texts are candidates when asked so."""

from __future__ import annotations

import numpy as np

from proposal_router.model.similarity import SimilarityIndex, normalised

LIFT = (
    "关于加快老旧小区加装电梯的提案：我市老旧小区多建于上世纪九十年代，老年住户上下楼困难。"
    "建议简化加装电梯审批流程，加大财政补贴。"
)
LIFT_AGAIN = (
    "关于推进老旧小区电梯加装工作的提案：老旧小区老年人多，上下楼难。建议简化电梯加装的审批手续，提高财政补贴标准。"
)
PARKING = "关于缓解老旧小区停车难的提案：老旧小区车位严重不足。建议挖潜建设立体停车库，错时开放机关单位停车场。"
BUS = "关于优化公交线路的提案：新城区公交覆盖不足。建议增开社区微循环公交，延长末班车时间。"
SCHOOL = "关于增加学前教育学位的提案：新建小区配套幼儿园不足。建议按标准配建公办幼儿园，扩大普惠性学位供给。"


def test_the_same_ask_in_other_words_is_found_and_another_ask_is_not() -> None:
    index = SimilarityIndex([LIFT, PARKING, BUS, SCHOOL], ["lift", "parking", "bus", "school"])
    scores = index.scores(LIFT_AGAIN)
    assert scores.argmax() == 0 and scores[0] > 2 * max(scores[1:])
    assert [m.id for m in index.similar(LIFT_AGAIN, threshold=float(scores[0]) - 1e-6)] == ["lift"]
    assert index.similar(BUS + "建议", threshold=0.5)[0].id == "bus"


def test_an_exact_repeat_is_found_at_one_whatever_its_punctuation() -> None:
    index = SimilarityIndex([LIFT, PARKING], ["lift", "parking"], max_df_share=0.0)  # every trigram "common"
    (match,) = index.similar(LIFT.replace("，", ", ").replace("。", " "), threshold=0.99)
    assert (match.id, match.similarity) == ("lift", 1.0)
    assert normalised("关于 A市，电梯！") == "关于a市电梯"


def test_added_texts_are_found_and_limit_keeps_only_earlier_ones() -> None:
    index = SimilarityIndex([PARKING, BUS], ["parking", "bus"])
    index.add(["lift", "school"], [LIFT, SCHOOL])
    assert len(index) == 4
    assert index.similar(LIFT_AGAIN, threshold=0.2)[0].id == "lift"
    assert index.similar(LIFT_AGAIN, threshold=0.2, limit=2) == []  # "lift" came after the first two
    assert [m.id for m in index.similar(LIFT, threshold=0.99, exclude={"lift"})] == []
    assert np.allclose(index.scores(LIFT)[[0, 1, 3]] < 0.3, True)


def test_an_empty_index_and_an_empty_text_find_nothing() -> None:
    assert SimilarityIndex().similar(LIFT, threshold=0.1) == []
    assert SimilarityIndex([LIFT], ["lift"]).similar("", threshold=0.1) == []
