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

SCHEMA_VERSION = "1.1"


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


class Section(StrEnum):
    """The parts of a Brief, in the order a brief shows them."""

    achievements = "achievements"
    leadership = "leadership"
    problems = "problems"
    plans = "plans"

    @property
    def label_zh(self) -> str:
        """The heading a Chinese brief gives the part (主要成效, 存在问题 …)."""
        return _SECTION_LABELS_ZH[self][0]

    @property
    def short_zh(self) -> str:
        """The one-word name (成效, 问题, 计划, 第一责任人), as tables and prompts use it."""
        return _SECTION_LABELS_ZH[self][1]


_SECTION_LABELS_ZH: dict[Section, tuple[str, str]] = {
    Section.achievements: ("主要成效", "成效"),
    Section.leadership: ("第一责任人履职", "第一责任人"),
    Section.problems: ("存在问题", "问题"),
    Section.plans: ("下一步安排", "计划"),
}

#: The Brief's sections in the order of its fields (and of eval tables).
SECTION_NAMES: tuple[Section, ...] = (
    Section.achievements,
    Section.problems,
    Section.plans,
    Section.leadership,
)
#: The three parts every annual report has; leadership is the rule-of-law report's fourth.
CORE_SECTIONS: tuple[Section, ...] = (Section.achievements, Section.problems, Section.plans)


class Genre(StrEnum):
    """Which kind of annual report govbrief took a report for."""

    rule_of_law_report = "rule_of_law_report"  # 法治政府建设年度报告
    government_work_report = "government_work_report"  # 政府工作报告
    work_summary = "work_summary"  # 工作总结（和下一年工作计划）
    unknown = "unknown"

    @property
    def label_zh(self) -> str:
        return _GENRE_LABELS_ZH[self]


_GENRE_LABELS_ZH = {
    Genre.rule_of_law_report: "法治政府建设报告",
    Genre.government_work_report: "政府工作报告",
    Genre.work_summary: "工作总结",
    Genre.unknown: "未识别的报告类型",
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
    genre: Genre = Field(default=Genre.unknown, description="Which kind of annual report this was taken for")
    title: str | None = None
    issuer: str | None = None
    region: str | None = None
    year: int | None = Field(default=None, description="The year reported on, not the publication year")
    published: str | None = Field(default=None, description="Publication date, ISO yyyy-mm-dd")
    doc_number: str | None = Field(default=None, description="文号, e.g. 遂安委〔2021〕13号")
    meeting: str | None = Field(
        default=None,
        description="Where a 政府工作报告 was delivered, e.g. 第十四届全国人民代表大会第二次会议",
    )


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
        return {section: getattr(self, section.value) for section in SECTION_NAMES}


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
