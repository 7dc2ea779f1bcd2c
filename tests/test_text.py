from __future__ import annotations

import pytest

from proposal_router.model.text import TextConfig, compose, split_windows

CFG = {"max_length": 10, "max_chunks": 3, "cls_id": 100, "sep_id": 101, "pad_id": 0}


def test_compose_puts_title_first_and_folds_whitespace() -> None:
    assert compose(" 关于 公交 的提案 ", "现状\n\n建议") == "关于 公交 的提案\n现状 建议"
    assert compose("", "只有正文") == "只有正文"


def test_short_text_is_one_window_for_every_strategy() -> None:
    for strategy in ("head", "head_tail", "chunks"):
        cfg = TextConfig(strategy=strategy, **CFG)
        assert split_windows([1, 2, 3], cfg) == [[100, 1, 2, 3, 101]]


def test_head_keeps_the_start() -> None:
    assert split_windows(list(range(20)), TextConfig(strategy="head", **CFG)) == [[100, *range(8), 101]]


def test_head_tail_keeps_both_ends() -> None:
    (window,) = split_windows(list(range(20)), TextConfig(strategy="head_tail", **CFG))
    assert window == [100, 0, 1, 2, 3, 16, 17, 18, 19, 101]


@pytest.mark.parametrize(("n", "starts"), [(12, [0, 4]), (40, [0, 16, 32]), (16, [0, 8])])
def test_chunks_cover_start_and_end_evenly(n: int, starts: list[int]) -> None:
    windows = split_windows(list(range(n)), TextConfig(strategy="chunks", **CFG))
    assert [w[1] for w in windows] == starts
    assert windows[-1][-2] == n - 1
    assert all(len(w) == 10 for w in windows)
