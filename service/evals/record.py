"""The run record: everything one eval run produced, as JSON (`evals/runs/<timestamp>-<label>.json`).

A baseline (`evals/baselines/<name>.json`) is a blessed run record. Records never hold the report
text (it lives once, in evals/reports/ or wherever the report is); they hold its hash, every
item with its evidence, where each golden quote was found, and which item matched which entry, so a
record can be re-scored against a changed golden set and compared with another without re-running.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.evals.golden import GoldenMeta
from service.models import Category, Item, Metric, Provenance, ReportMeta, Span

RECORD_FORMAT = "govbrief-eval-run"
RECORD_VERSION = 1


class _Record(BaseModel):
    # Records are machine-written and may come from a newer govbrief: unknown keys are ignored.
    model_config = ConfigDict(extra="ignore")


class SectionScore(_Record):
    golden: int = 0
    predicted: int = 0
    matched: int = 0
    precision: float = 1.0
    recall: float = 1.0
    f1: float = 1.0

    @classmethod
    def of(cls, matched: int, predicted: int, golden: int) -> SectionScore:
        # Nothing predicted claims nothing wrong, nothing expected leaves nothing to miss: both are
        # vacuously 1.0, so a report with no leadership entries and no leadership items is perfect,
        # and F1 still falls to 0 when either side is empty and the other is not.
        precision = matched / predicted if predicted else 1.0
        recall = matched / golden if golden else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(
            golden=golden,
            predicted=predicted,
            matched=matched,
            precision=round(precision, 4),
            recall=round(recall, 4),
            f1=round(f1, 4),
        )

    def __add__(self, other: SectionScore) -> SectionScore:
        """Pooled (micro-averaged) counts."""
        return SectionScore.of(
            self.matched + other.matched, self.predicted + other.predicted, self.golden + other.golden
        )


class Scores(_Record):
    reports: int = 1
    errors: int = 0
    sections: dict[str, SectionScore] = Field(default_factory=dict)
    items: SectionScore = Field(default_factory=SectionScore, description="All four sections pooled")
    meta_accuracy: float = 0.0
    meta_fields: dict[str, float] = Field(
        default_factory=dict, description="Share of reports right, per field"
    )
    grounded_items: int = 0
    grounding_rate: float | None = None
    schema_valid: int = 0
    schema_valid_rate: float = 0.0
    category_pairs: int = 0
    category_agreed: int = 0
    category_agreement: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cache_hits: int = 0
    cost_usd: float | None = None
    latency_ms: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RecordItem(_Record):
    title: str
    summary: str = ""
    category: Category = Category.other
    evidence: list[Span] = Field(default_factory=list)
    metrics: list[Metric] = Field(default_factory=list)
    #: Every span of the item (evidence and metrics) is exact: text[start:end] == quote.
    grounded: bool = True

    @classmethod
    def from_item(cls, item: Item) -> RecordItem:
        return cls(
            title=item.title,
            summary=item.summary,
            category=item.category,
            evidence=list(item.evidence),
            metrics=list(item.metrics),
        )

    def spans(self) -> list[Span]:
        return [*self.evidence, *(m.evidence for m in self.metrics)]

    def texts(self) -> tuple[str, ...]:
        return (*(s.quote for s in self.evidence), self.title)


class GoldenRef(_Record):
    """A golden entry as this run saw it, and where its quote was found in the normalized text."""

    label: str
    quote: str
    category: Category | None = None
    spans: list[tuple[int, int]] = Field(default_factory=list)
    how: Literal["exact", "canonical", "fuzzy"] | None = None  # None: not found
    score: float | None = None


class MatchRef(_Record):
    golden: int
    item: int
    how: Literal["overlap", "similarity"]
    strength: float = 1.0


class ReportRecord(_Record):
    id: str
    path: str
    source_sha256: str | None = None
    text_sha256: str | None = Field(default=None, description="sha256 of the normalized text the spans index")
    chars: int = 0
    error: str | None = None
    schema_valid: bool = False
    meta: ReportMeta | None = None
    golden_meta: GoldenMeta | None = None
    items: dict[str, list[RecordItem]] = Field(default_factory=dict)
    golden: dict[str, list[GoldenRef]] = Field(default_factory=dict)
    matches: dict[str, list[MatchRef]] = Field(default_factory=dict)
    provenance: Provenance | None = None
    warnings: list[str] = Field(default_factory=list)
    scores: Scores = Field(default_factory=Scores)

    def matched_item(self, section: str, golden_index: int) -> int | None:
        for m in self.matches.get(section, []):
            if m.golden == golden_index:
                return m.item
        return None

    def matched_golden(self, section: str, item_index: int) -> int | None:
        for m in self.matches.get(section, []):
            if m.item == item_index:
                return m.golden
        return None


class RunSettings(_Record):
    backend: str
    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    schema_hash: str | None = None
    chunk_max_tokens: int | None = None
    llm_temperature: float | None = None
    llm_structured_output: str | None = None
    golden_dir: str | None = None
    golden_hash: str | None = None
    govbrief_version: str | None = None


class RunRecord(_Record):
    format: Literal["govbrief-eval-run"] = "govbrief-eval-run"
    version: int = RECORD_VERSION
    label: str
    created: str
    settings: RunSettings
    scores: Scores
    reports: list[ReportRecord] = Field(default_factory=list)

    def report(self, report_id: str) -> ReportRecord | None:
        return next((r for r in self.reports if r.id == report_id), None)
