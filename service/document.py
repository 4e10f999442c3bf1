"""The internal types that flow between pipeline stages.

ingest → RawText → normalize → str → outline → Outline → segment → [Sentence] → chunk → [Chunk];
together they make a `Document`, which every backend reads. Backends answer with `DraftItem`s that
cite sentence ids or character ranges; `ground` turns those into exact `Span`s.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.models import Category, ReportMeta, Section, Span


@dataclass(frozen=True)
class RawText:
    """A report's text as read from its file, before normalization."""

    path: str
    text: str
    format: str  # txt | md | html | pdf | docx
    sha256: str  # of the raw bytes
    encoding: str | None = None


class SectionKind(StrEnum):
    preamble = "preamble"  # title, metadata, opening paragraph
    achievements = "achievements"
    leadership = "leadership"
    problems = "problems"
    plans = "plans"
    closing = "closing"  # signature, date, page footer
    other = "other"


@dataclass
class Node:
    """One heading of the report's outline and the text it governs.

    `start`..`end` covers the heading and its body in the normalized text; `title_start`..`title_end`
    the heading's own words (without the marker). Level 1 is `一、`, 2 `（一）`, 3 `1.`, 4 inline `一是`.
    """

    level: int
    marker: str
    title: str
    start: int
    end: int
    title_start: int
    title_end: int
    body_start: int
    kind: SectionKind = SectionKind.other
    children: list[Node] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Outline:
    nodes: list[Node]  # top-level sections in document order
    meta: ReportMeta
    #: What the outline could not make out (an unrecognised structure or genre), for the brief.
    warnings: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        for node in self.nodes:
            yield from node.walk()

    def path_at(self, offset: int) -> list[Node]:
        """Headings enclosing `offset`, outermost first."""
        path: list[Node] = []
        level = self.nodes
        while True:
            hit = next((n for n in level if n.start <= offset < n.end), None)
            if hit is None:
                return path
            path.append(hit)
            level = hit.children

    def kind_at(self, offset: int) -> SectionKind:
        path = self.path_at(offset)
        return path[-1].kind if path else SectionKind.preamble


@dataclass(frozen=True)
class Sentence:
    id: str  # "s1", "s2", … in document order; stable for the same normalized text
    start: int
    end: int
    text: str


@dataclass
class Chunk:
    id: str  # "c1", …
    heading_path: list[str]
    kind: SectionKind
    sentences: list[Sentence]
    tokens: int

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end


@dataclass
class Document:
    """A report ready for extraction. `text` is the normalized text that every offset indexes."""

    path: str
    sha256: str
    text: str
    outline: Outline
    sentences: list[Sentence]
    chunks: list[Chunk]
    _starts: list[int] = field(default_factory=list, repr=False)
    _by_id: dict[str, Sentence] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._starts = [s.start for s in self.sentences]
        self._by_id = {s.id: s for s in self.sentences}

    @property
    def meta(self) -> ReportMeta:
        return self.outline.meta

    def sentence(self, sentence_id: str) -> Sentence | None:
        return self._by_id.get(sentence_id)

    def sentences_between(self, start: int, end: int) -> list[Sentence]:
        """Sentences overlapping [start, end)."""
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        out = []
        for s in self.sentences[i:]:
            if s.start >= end:
                break
            if s.end > start:
                out.append(s)
        return out

    def span(self, start: int, end: int) -> Span:
        """An exact evidence span over [start, end) with the ids of the sentences it touches."""
        return Span(
            quote=self.text[start:end],
            start=start,
            end=end,
            sentence_ids=[s.id for s in self.sentences_between(start, end)],
        )


@dataclass
class DraftMetric:
    label: str
    value: float
    unit: str
    start: int | None = None  # character range of the evidence, or …
    end: int | None = None
    sentence_id: str | None = None  # … the sentence that states it (LLM backends)
    quote: str | None = None  # the number as written, to locate it inside that sentence


@dataclass
class DraftItem:
    """An item as a backend proposes it, before grounding.

    Evidence is given either as character ranges (`ranges`, rules backend) or as sentence ids
    (`sentence_ids`, LLM backends). `ground` checks and converts both.
    """

    section: Section
    title: str
    summary: str
    category: Category = Category.other
    sentence_ids: list[str] = field(default_factory=list)
    ranges: list[tuple[int, int]] = field(default_factory=list)
    metrics: list[DraftMetric] = field(default_factory=list)
    chunk_id: str | None = None


@dataclass
class Usage:
    """What a backend spent; summed into the Brief's provenance."""

    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    cache_hit: bool = False
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    structured_output: str | None = None  # the structured-output mode of the LLM's answers


@dataclass
class Extraction:
    drafts: list[DraftItem]
    overview: str | None = None
    warnings: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    #: Request (pack/chunk) id → why it got no usable answer; its items are missing from `drafts`.
    failed_chunks: dict[str, str] = field(default_factory=dict)
    #: Some chunk gave up on transport errors (rate limits, outages) rather than on bad answers, so
    #: the same report is likely to do better later (batch puts it back in its queue).
    transient_failure: bool = False
    #: What this one call did, backend-specific (the openai backend: its `RunStats`). Per call, so
    #: concurrent extractions on one backend never see each other's numbers.
    stats: Any = field(default=None, repr=False, compare=False)
    #: Items the LLM proposed before any was dropped (None for backends that propose none): a brief
    #: whose every proposed item was dropped is an error, not an empty brief.
    proposed: int | None = None
