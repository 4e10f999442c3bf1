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
from service.models import Category, Genre, Item, Metric, Provenance, ReportMeta, Span

RECORD_FORMAT = "govbrief-eval-run"
#: 2: live/cached accounting, LLM run stats, repeats, found/cited counts, genre and split, judge.
RECORD_VERSION = 2

#: Whether a report's answers came from the model in this run: `live` (every answer asked for),
#: `cached` (every answer from the answer cache, the model not called), `mixed`, or `none` (a
#: backend without a model, e.g. rules).
CacheState = Literal["live", "cached", "mixed", "none"]
#: How a run used the answer cache: read and write it, refresh (ask, overwrite), or off (--no-cache).
CacheMode = Literal["used", "refresh", "off"]


class _Record(BaseModel):
    # Records are machine-written and may come from a newer govbrief: unknown keys are ignored.
    model_config = ConfigDict(extra="ignore")


def _prf(matched: int, predicted: int, golden: int) -> tuple[float, float, float]:
    # Nothing predicted claims nothing wrong, nothing expected leaves nothing to miss: both are
    # vacuously 1.0, so a report with no leadership entries and no leadership items is perfect,
    # and F1 still falls to 0 when either side is empty and the other is not. (Tables show the
    # counts beside these, so a run whose every item was dropped reads as 0 predicted, not as 1.00.)
    precision = matched / predicted if predicted else 1.0
    recall = matched / golden if golden else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return round(precision, 4), round(recall, 4), round(f1, 4)


class SectionScore(_Record):
    """Two kinds of right: `matched` items cite the golden sentence (precision/recall/f1, the score
    drift gates on); `found` items are the golden entry by title or evidence text, whatever they
    cite (found_*). `dropped` items were proposed but thrown away (ungrounded, bad ids)."""

    golden: int = 0
    predicted: int = 0
    matched: int = 0
    found: int = 0
    dropped: int = 0
    precision: float = 1.0
    recall: float = 1.0
    f1: float = 1.0
    found_precision: float = 1.0
    found_recall: float = 1.0
    found_f1: float = 1.0

    @classmethod
    def of(
        cls, matched: int, predicted: int, golden: int, found: int | None = None, dropped: int = 0
    ) -> SectionScore:
        found = matched if found is None else found
        precision, recall, f1 = _prf(matched, predicted, golden)
        fp, fr, ff = _prf(found, predicted, golden)
        return cls(
            golden=golden,
            predicted=predicted,
            matched=matched,
            found=found,
            dropped=dropped,
            precision=precision,
            recall=recall,
            f1=f1,
            found_precision=fp,
            found_recall=fr,
            found_f1=ff,
        )

    def __add__(self, other: SectionScore) -> SectionScore:
        """Pooled (micro-averaged) counts."""
        return SectionScore.of(
            self.matched + other.matched,
            self.predicted + other.predicted,
            self.golden + other.golden,
            self.found + other.found,
            self.dropped + other.dropped,
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
    #: Tokens, calls, cost and latency above are what the answers cost when they were made, so a
    #: cached rerun compares with a live run on real cost; these say what this run itself did.
    cached_reports: int = 0
    live_calls: int = 0
    reasks: int = 0
    splits: int = 0
    rejected_modes: int = 0

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
    how: Literal["overlap", "similarity", "title"]
    strength: float = 1.0


class Cost(_Record):
    """What a report's answers cost when they were made (stored beside them in the answer cache)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float | None = None
    latency_ms: int = 0
    made: str | None = None  # when (ISO time); None: not known

    @classmethod
    def of(cls, p: Provenance, made: str | None = None) -> Cost:
        return cls(
            prompt_tokens=p.prompt_tokens,
            completion_tokens=p.completion_tokens,
            calls=p.llm_calls,
            cost_usd=p.cost_usd,
            latency_ms=p.elapsed_ms,
            made=made,
        )


class LLMStats(_Record):
    """What the LLM backend did for one report (its RunStats); None where it does not say."""

    structured_output: str | None = None  # the weakest mode an answer was given in
    modes: list[str] | None = None
    rejected_modes: list[str] | None = None
    reasks: int | None = None
    splits: int | None = None
    failed_chunks: list[str] | None = None
    cache_hits: int | None = None
    cache_misses: int | None = None


class Dropped(_Record):
    """An item the backend proposed that did not reach the brief, and why (from the warnings)."""

    section: str | None = None  # None: the warning does not say
    title: str = ""
    reason: str


class Judged(_Record):
    """The faithfulness judge's verdict on one item: do its title and summary say what its cited
    sentences say?"""

    section: str
    item: int
    faithful: bool | None  # None: no verdict (the judge skipped it or failed)
    reason: str = ""


class ReportRecord(_Record):
    id: str
    path: str
    genre: Genre | None = None
    split: str | None = None
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
    found: dict[str, list[MatchRef]] = Field(
        default_factory=dict, description="Items that are the golden entry by title or text"
    )
    provenance: Provenance | None = None
    cache: CacheState = "none"
    original: Cost | None = Field(default=None, description="What the answers cost when made")
    llm: LLMStats | None = None
    dropped: list[Dropped] = Field(default_factory=list)
    judged: list[Judged] | None = None
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


class PromptText(_Record):
    """A prompt as it was run, so that a prompt edit can be diffed later (not only its hash)."""

    id: str
    version: str
    hash: str
    path: str = ""
    system: str
    user: str
    reask: str = ""


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
    prompts_dir: str | None = None
    prompts: list[PromptText] = Field(default_factory=list)
    cache: CacheMode | None = None  # None: no model
    repeat: int = 1
    split: str | None = None  # None: every split
    judge_prompt: PromptText | None = None


class Sample(_Record):
    """One repeat of a run (`--repeat N`): its reports and their pooled scores."""

    scores: Scores
    reports: list[ReportRecord] = Field(default_factory=list)


class RunRecord(_Record):
    format: Literal["govbrief-eval-run"] = "govbrief-eval-run"
    version: int = RECORD_VERSION
    label: str
    created: str
    settings: RunSettings
    scores: Scores
    reports: list[ReportRecord] = Field(default_factory=list)
    #: `scores` and `reports` are the first run of the golden set; with `--repeat N` the other
    #: N-1 runs are here, so every metric has a mean and a spread.
    repeats: list[Sample] = Field(default_factory=list)

    @property
    def deterministic(self) -> bool:
        """The rules backend gives the same brief every time; an LLM need not."""
        return self.settings.backend == "rules"

    def samples(self) -> list[Sample]:
        return [Sample(scores=self.scores, reports=self.reports), *self.repeats]

    def report(self, report_id: str) -> ReportRecord | None:
        return next((r for r in self.reports if r.id == report_id), None)
