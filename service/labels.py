"""The Chinese words offices read for the router's codes, shared by the web page and the result workbook."""

from __future__ import annotations

REASONS = {
    "low_confidence": "置信度低",
    "no_safe_threshold": "未达可自动交办条件",
    "near_tie": "两个单位接近",
    "text_too_short": "内容过短",
    "no_lead_model": "模型不含主办单位",
    "screening_flag": "审查立案",
    "similar_filing": "可能并案",
    "auto_paused": "自动交办已暂停",
}
DECISIONS = {"auto": "自动交办", "review": "人工复核"}
STATUSES = {"pending": "待复核", "auto": "已自动交办", "reviewed": "已复核", "rejected": "不予立案"}
