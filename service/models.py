"""The Brief: govbrief's output contract.

These field names are read by other tools; change them only with a schema_version bump and a
fresh export (`schemas/brief.schema.json`, checked by tests/test_schema_export.py).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


class Category(StrEnum):
    """Fixed list of work areas, after the chapters of 法治政府建设实施纲要."""

    functions_business = "functions_business"  # 政府职能与营商环境
    rule_making = "rule_making"  # 立法与规范性文件
    major_decisions = "major_decisions"  # 重大行政决策
    law_enforcement = "law_enforcement"  # 行政执法
    emergency_response = "emergency_response"  # 突发事件应对
    disputes_reconsideration = "disputes_reconsideration"  # 矛盾纠纷化解、行政复议与应诉
    oversight_transparency = "oversight_transparency"  # 权力制约监督、政务公开
    digital_government = "digital_government"  # 数字法治政府
    party_leadership = "party_leadership"  # 党的领导与第一责任人
    legal_publicity_training = "legal_publicity_training"  # 普法与学法培训
    other = "other"


CATEGORY_LABELS_ZH: dict[Category, str] = {
    Category.functions_business: "政府职能与营商环境",
    Category.rule_making: "制度建设与规范性文件",
    Category.major_decisions: "重大行政决策",
    Category.law_enforcement: "行政执法",
    Category.emergency_response: "突发事件应对",
    Category.disputes_reconsideration: "矛盾纠纷化解与行政复议",
    Category.oversight_transparency: "权力监督与政务公开",
    Category.digital_government: "数字政府",
    Category.party_leadership: "党的领导与责任落实",
    Category.legal_publicity_training: "普法与学法培训",
    Category.other: "其他",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Span(_Model):
    """A piece of evidence: `source_text[start:end] == quote`, always, in the normalized text."""

    quote: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    sentence_ids: list[str] = Field(default_factory=list)


class Metric(_Model):
    """A number the report states, e.g. 废止涉企规范性文件 28 件."""

    label: str = Field(description="What is counted, e.g. 废止涉企规范性文件")
    value: float
    unit: str = Field(description="e.g. 件, 项, 人次, 万元, %")
    evidence: Span


class Item(_Model):
    title: str
    summary: str
    category: Category = Category.other
    metrics: list[Metric] = Field(default_factory=list)
    evidence: list[Span] = Field(min_length=1)


class Source(_Model):
    path: str
    sha256: str
    chars: int = Field(description="Length of the normalized text that all offsets index")
    text: str | None = Field(default=None, description="The normalized text, only when asked for")


class ReportMeta(_Model):
    title: str | None = None
    issuer: str | None = None
    region: str | None = None
    year: int | None = Field(default=None, description="The year reported on, not the publication year")
    published: str | None = Field(default=None, description="Publication date, ISO yyyy-mm-dd")
    doc_number: str | None = Field(default=None, description="文号, e.g. 遂安委〔2021〕13号")


class Provenance(_Model):
    backend: str
    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    schema_hash: str
    cache_hit: bool = False
    chunks: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    elapsed_ms: int = 0
    structured_output: str | None = Field(
        default=None,
        description="How the LLM's answer shape was asked for: json_schema, json_object_schema, "
        "json_object or text (the weakest used); none for the rules backend",
    )


class Brief(_Model):
    schema_version: str = SCHEMA_VERSION
    source: Source
    report: ReportMeta
    overview: str = ""
    achievements: list[Item] = Field(default_factory=list)
    problems: list[Item] = Field(default_factory=list)
    plans: list[Item] = Field(default_factory=list)
    leadership: list[Item] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    provenance: Provenance

    def sections(self) -> dict[str, list[Item]]:
        return {
            "achievements": self.achievements,
            "problems": self.problems,
            "plans": self.plans,
            "leadership": self.leadership,
        }


SECTION_NAMES = ("achievements", "problems", "plans", "leadership")


def brief_json_schema() -> dict[str, Any]:
    return Brief.model_json_schema()


def schema_hash(schema: dict[str, Any] | None = None) -> str:
    """Short, stable hash of a JSON Schema (the Brief's by default); part of cache keys."""
    if schema is None:
        return _brief_schema_hash()
    data = json.dumps(schema, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _brief_schema_hash() -> str:
    # Generating the Brief's JSON Schema costs more than briefing a report with the rules backend.
    return schema_hash(brief_json_schema())
