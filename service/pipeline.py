"""The pipeline, start to end: ingest → normalize → outline → segment → chunk → extract → ground → merge.

The CLI, the HTTP app, batch and evals are thin edges over `summarize_*`; none of them reimplements
a stage. The backend is passed in (built by `service.backends.registry`) so that this module never
imports an LLM client.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from service import chunk as chunk_stage
from service import ground, merge, normalize, outline, segment
from service.backends.base import Backend
from service.document import Document, Outline, RawText
from service.errors import EmptyBriefError, NotAReportError
from service.ingest import read_bytes, read_path
from service.models import Brief, Provenance, Section, Source, schema_hash
from service.vocab import CJK_CHAR

#: Below this many CJK characters of prose a text is not a report (a nav bar, an error page).
MIN_REPORT_CJK_CHARS = 40
_CJK_CHAR = CJK_CHAR
#: The words a government's annual report is made of. A text with no title, no year and no section
#: headings must use them at least this often per 1,000 characters to pass for a report (reports
#: use them 35-60 times per 1,000; a diary or a novel, never).
_REPORT_TERMS = re.compile("法治|依法|行政|政府|执法|建设|法律|司法|监督|复议|普法|治理|改革|发展|推进|落实")
MIN_REPORT_TERMS_PER_1000 = 5


def analyze(raw: RawText, *, chunk_max_tokens: int = 1500) -> Document:
    """Everything up to extraction; deterministic and cheap."""
    text = normalize.normalize(raw.text)
    # Count only as far as the threshold: a report passes within its first lines.
    cjk = sum(1 for _ in itertools.islice(_CJK_CHAR.finditer(text), MIN_REPORT_CJK_CHARS))
    if cjk < MIN_REPORT_CJK_CHARS:
        raise NotAReportError(raw.path, f"no report text found ({cjk} Chinese characters after cleaning)")
    tree = outline.parse(text)
    _check_looks_like_a_report(raw.path, text, tree)
    sentences = segment.split(text)
    chunks = chunk_stage.make_chunks(text, tree, sentences, max_tokens=chunk_max_tokens)
    return Document(
        path=raw.path, sha256=raw.sha256, text=text, outline=tree, sentences=sentences, chunks=chunks
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


def summarize_document(doc: Document, backend: Backend, *, with_text: bool = False) -> Brief:
    started = time.perf_counter()
    extraction = backend.extract(doc)
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
        *doc.outline.warnings,
        *extraction.warnings,
        *warnings,
        *merge.missing_section_warnings(doc, sections),
    ]
    overview = extraction.overview or merge.default_overview(doc, sections)
    usage = extraction.usage
    return Brief(
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


def summarize_raw(
    raw: RawText, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    started = time.perf_counter()
    brief = summarize_document(analyze(raw, chunk_max_tokens=chunk_max_tokens), backend, with_text=with_text)
    brief.provenance.elapsed_ms = round((time.perf_counter() - started) * 1000)
    return brief


def summarize_path(
    path: str | Path, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    return summarize_raw(read_path(path), backend, with_text=with_text, chunk_max_tokens=chunk_max_tokens)


def summarize_bytes(
    data: bytes, filename: str, backend: Backend, *, with_text: bool = False, chunk_max_tokens: int = 1500
) -> Brief:
    return summarize_raw(
        read_bytes(data, filename), backend, with_text=with_text, chunk_max_tokens=chunk_max_tokens
    )
