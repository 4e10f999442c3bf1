"""The pipeline, start to end: ingest → normalize → outline → segment → chunk → extract → ground → merge.

The CLI, the HTTP app, jobs, batch and evals are thin edges over `run` (and its `summarize_*`
shorthands); none of them reimplements a stage. The backend is passed in (built by
`service.backends.registry`) so that this module never imports an LLM client.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from service import chunk as chunk_stage
from service import ground, merge, normalize, outline, progress, segment
from service.backends.base import Backend
from service.document import Document, Extraction, Outline, RawText
from service.errors import EmptyBriefError, NotAReportError, RunTimeLimitError
from service.ingest import read_bytes, read_path
from service.models import Brief, Provenance, Section, Source, schema_hash
from service.progress import Progress, ProgressCallback
from service.vocab import CJK_CHAR

#: Below this many CJK characters of prose a text is not a report (a nav bar, an error page).
MIN_REPORT_CJK_CHARS = 40
_CJK_CHAR = CJK_CHAR
#: The words a government's annual report is made of. A text with no title, no year and no section
#: headings must use them at least this often per 1,000 characters to pass for a report (reports
#: use them 35-60 times per 1,000; a diary or a novel, never).
_REPORT_TERMS = re.compile("法治|依法|行政|政府|执法|建设|法律|司法|监督|复议|普法|治理|改革|发展|推进|落实")
MIN_REPORT_TERMS_PER_1000 = 5


def analyze(
    raw: RawText, *, chunk_max_tokens: int = 1500, checkpoint: Callable[[], None] = lambda: None
) -> Document:
    """Everything up to extraction; deterministic and cheap. `checkpoint` is called between stages
    (a run's deadline: it raises once the run is over its time)."""
    text = normalize.normalize(raw.text)
    checkpoint()
    # Count only as far as the threshold: a report passes within its first lines.
    cjk = sum(1 for _ in itertools.islice(_CJK_CHAR.finditer(text), MIN_REPORT_CJK_CHARS))
    if cjk < MIN_REPORT_CJK_CHARS:
        raise NotAReportError(raw.path, f"no report text found ({cjk} Chinese characters after cleaning)")
    tree = outline.parse(text)
    _check_looks_like_a_report(raw.path, text, tree)
    checkpoint()
    sentences = segment.split(text)
    checkpoint()
    chunks = chunk_stage.make_chunks(text, tree, sentences, max_tokens=chunk_max_tokens)
    checkpoint()
    return Document(
        path=raw.path,
        sha256=raw.sha256,
        text=text,
        outline=tree,
        sentences=sentences,
        chunks=chunks,
        warnings=list(raw.warnings),
    )


def _check_looks_like_a_report(path: str, text: str, tree: Outline) -> None:
    """Chinese text that is not a report (a diary, a news story) has none of a report's structure
    and little of its vocabulary; a report excerpt lacking the structure still has the vocabulary."""
    if tree.meta.title or tree.meta.year or any(n.marker for n in tree.nodes):
        return
    terms = len(_REPORT_TERMS.findall(text))
    if terms * 1000 < MIN_REPORT_TERMS_PER_1000 * len(text):
        raise NotAReportError(
            path,
            "not an annual government report: no title, year or section headings, and "
            f"{terms} report terms (法治/依法/行政/政府…) in {len(text)} characters",
        )


@dataclass(frozen=True)
class RunOptions:
    """Everything about a run that is not the report or the backend, given once."""

    with_text: bool = False  # keep the normalized text in source.text
    chunk_max_tokens: int = 1500
    #: Seconds the run may take (GOVBRIEF_RUN_TIME_LIMIT); None: no limit. Past it the run is
    #: stopped at its next checkpoint: between stages, and at every progress report (each LLM
    #: request answered), so an LLM run stops within one request of its limit.
    time_limit: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


class _Deadline:
    def __init__(self, path: str, options: RunOptions) -> None:
        self.path, self.limit, self.clock = path, options.time_limit, options.clock
        self.ends = None if self.limit is None else self.clock() + self.limit

    def check(self) -> None:
        if self.ends is not None and self.clock() > self.ends:
            raise RunTimeLimitError(
                self.path, f"stopped after the run-time limit of {self.limit:g} s (GOVBRIEF_RUN_TIME_LIMIT)"
            )

    def guard(self, listener: ProgressCallback | None) -> ProgressCallback | None:
        """The listener, behind the deadline: every progress report is a checkpoint too."""
        if self.ends is None:
            return listener

        def checked(p: Progress) -> None:
            self.check()
            if listener is not None:
                listener(p)

        return checked


@dataclass(frozen=True)
class RunResult:
    brief: Brief
    #: Request (pack/chunk) id → why it got no usable answer (its items are missing from the brief).
    failed_chunks: dict[str, str] = field(default_factory=dict)
    #: Some of those failed on transport errors: the same report would likely do better later.
    transient_failure: bool = False


def run(
    source: RawText | str | Path,
    backend: Backend,
    options: RunOptions | None = None,
    *,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    """The whole pipeline for one report. `source` is a RawText (`ingest.read_bytes` for uploads) or
    a path. `on_progress` hears the chunk count once the report is analyzed, the backend's own
    reports as chunks are answered (the openai backend: one per request), and the final figures."""
    options = options or RunOptions()
    started = time.perf_counter()
    deadline = _Deadline(source.path if isinstance(source, RawText) else os.fspath(source), options)
    with progress.reporting(deadline.guard(on_progress)):
        raw = source if isinstance(source, RawText) else read_path(source)
        deadline.check()
        doc = analyze(raw, chunk_max_tokens=options.chunk_max_tokens, checkpoint=deadline.check)
        total = len(chunk_stage.extractable(doc.chunks) or doc.chunks)
        progress.report(Progress(0, total))
        brief, extraction = _brief(doc, backend, with_text=options.with_text, deadline=deadline)
        usage = extraction.usage
        progress.report(Progress(total, total, usage.llm_calls, usage.prompt_tokens, usage.completion_tokens))
    brief.provenance.elapsed_ms = round((time.perf_counter() - started) * 1000)
    return RunResult(brief, dict(extraction.failed_chunks), extraction.transient_failure)


def summarize_document(doc: Document, backend: Backend, *, with_text: bool = False) -> Brief:
    return _brief(doc, backend, with_text=with_text)[0]


def _brief(
    doc: Document, backend: Backend, *, with_text: bool, deadline: _Deadline | None = None
) -> tuple[Brief, Extraction]:
    started = time.perf_counter()
    extraction = backend.extract(doc)
    if deadline is not None:
        deadline.check()
    chunk_ids = {c.id: {s.id for s in c.sentences} for c in doc.chunks}
    items, warnings = ground.ground(doc, extraction.drafts, chunk_sentence_ids=chunk_ids)
    sections = merge.merge(items)
    if extraction.proposed and not any(sections.values()):
        why = next(iter([*extraction.warnings, *warnings]), "no reason recorded")
        raise EmptyBriefError(
            f"{doc.path}: every one of the {extraction.proposed} items the LLM proposed was dropped, "
            f"so the brief would be empty; first reason: {why}"
        )
    warnings = [
        *doc.warnings,
        *doc.outline.warnings,
        *extraction.warnings,
        *warnings,
        *merge.missing_section_warnings(doc, sections),
    ]
    overview = extraction.overview or merge.default_overview(doc, sections)
    usage = extraction.usage
    brief = Brief(
        source=Source(
            path=doc.path, sha256=doc.sha256, chars=len(doc.text), text=doc.text if with_text else None
        ),
        report=doc.meta,
        overview=overview,
        achievements=sections[Section.achievements],
        problems=sections[Section.problems],
        plans=sections[Section.plans],
        leadership=sections[Section.leadership],
        warnings=warnings,
        provenance=Provenance(
            backend=backend.name,
            model=usage.model,
            prompt_id=usage.prompt_id,
            prompt_version=usage.prompt_version,
            prompt_hash=usage.prompt_hash,
            schema_hash=schema_hash(),
            cache_hit=usage.cache_hit,
            chunks=len(doc.chunks),
            llm_calls=usage.llm_calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=usage.cost_usd,
            elapsed_ms=round((time.perf_counter() - started) * 1000),
            structured_output=usage.structured_output,
        ),
    )
    return brief, extraction


def summarize_raw(
    raw: RawText, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    return run(raw, backend, RunOptions(with_text, chunk_max_tokens)).brief


def summarize_path(
    path: str | Path, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    return run(path, backend, RunOptions(with_text, chunk_max_tokens)).brief


def summarize_bytes(
    data: bytes, filename: str, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    return run(read_bytes(data, filename), backend, RunOptions(with_text, chunk_max_tokens)).brief
