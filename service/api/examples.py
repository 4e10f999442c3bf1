"""Examples for the OpenAPI description: a short report and the brief the rules backend makes of it."""

from __future__ import annotations

from typing import Any

EXAMPLE_TEXT = (
    "青禾县人民政府关于2023年度法治政府建设情况的报告\n"
    "一、主要成效\n"
    "（一）深化“放管服”改革。全年取消行政许可事项7项，县级政务服务事项网上可办率达98.6%。\n"
    "二、存在问题\n"
    "基层综合行政执法力量较为薄弱，执法人员专业素质有待提高。\n"
    "三、下一步安排\n"
    "持续优化法治化营商环境，推进包容审慎监管。\n"
)


def _span(quote: str, start: int, sid: str) -> dict[str, Any]:
    return {"quote": quote, "start": start, "end": start + len(quote), "sentence_ids": [sid]}


_PROBLEM = "基层综合行政执法力量较为薄弱，执法人员专业素质有待提高。"
_PLAN = "持续优化法治化营商环境，推进包容审慎监管。"

EXAMPLE_BRIEF: dict[str, Any] = {
    "id": "3q2-7wEjZ0mJ1xRkQ9vY_g",
    "schema_version": "1.0",
    "source": {
        "path": "qinghe.txt",
        "sha256": "235abc36f31462a542ef4a46d85e92c7c84f9e5e2787aa60dee27789c6dcd667",
        "chars": 146,
        "text": None,
    },
    "report": {
        "title": "青禾县人民政府关于2023年度法治政府建设情况的报告",
        "issuer": "青禾县人民政府",
        "region": "青禾县",
        "year": 2023,
        "published": None,
        "doc_number": None,
    },
    "overview": "青禾县人民政府2023年度法治政府建设报告，梳理出主要成效1项，存在问题1项，下一步安排1项，"
    "成效集中在政府职能与营商环境，主要问题包括基层综合行政执法力量较为薄弱。",
    "achievements": [
        {
            "title": "深化“放管服”改革",
            "summary": "全年取消行政许可事项7项，县级政务服务事项网上可办率达98.6%。",
            "category": "functions_business",
            "metrics": [
                {
                    "label": "取消行政许可事项",
                    "value": 7.0,
                    "unit": "项",
                    "evidence": _span("取消行政许可事项7项", 49, "s4"),
                },
                {
                    "label": "县级政务服务事项网上可办率",
                    "value": 98.6,
                    "unit": "%",
                    "evidence": _span("县级政务服务事项网上可办率达98.6%", 60, "s4"),
                },
            ],
            "evidence": [
                _span("深化“放管服”改革", 37, "s3"),
                _span("全年取消行政许可事项7项，县级政务服务事项网上可办率达98.6%。", 47, "s4"),
            ],
        }
    ],
    "problems": [
        {
            "title": "基层综合行政执法力量较为薄弱",
            "summary": _PROBLEM,
            "category": "law_enforcement",
            "metrics": [],
            "evidence": [_span(_PROBLEM, 88, "s6")],
        }
    ],
    "plans": [
        {
            "title": "持续优化法治化营商环境",
            "summary": _PLAN,
            "category": "functions_business",
            "metrics": [],
            "evidence": [_span(_PLAN, 125, "s8")],
        }
    ],
    "leadership": [],
    "warnings": [],
    "provenance": {
        "backend": "rules",
        "model": None,
        "prompt_id": None,
        "prompt_version": None,
        "prompt_hash": None,
        "schema_hash": "7ef5a532a914caee",
        "cache_hit": False,
        "chunks": 4,
        "llm_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": None,
        "elapsed_ms": 3,
    },
}
