"""Scores: per report and pooled, per section, from a report record and its golden file.

- items: precision, recall and F1 per section, from one-to-one matches (`service.evals.match`). An
  item only ever counts in the section the brief put it in, so an item in the wrong section costs
  precision there and earns nothing where it belonged. Two kinds of right are counted: `matched`
  (the item cites the golden sentence) and `found` (it is the golden entry by title or text);
  `dropped` counts items the backend proposed that the pipeline threw away.
- metadata accuracy: the share of (title, issuer, region, year, published, doc_number) that agree
  with the golden meta, blind to whitespace and punctuation (the golden titles keep the stray PDF
  spaces of the page); golden `alternates` are accepted too.
- grounding rate: items all of whose spans are exact, `text[start:end] == quote`.
- schema-valid rate: reports whose Brief was produced and validates against the Brief schema.
- category agreement: among matched pairs whose golden entry names a category, the share that agree.
- tokens, calls, cost and latency: what the answers cost when they were made (a cached report keeps
  its original cost, `ReportRecord.original`); `live_calls` and `cached_reports` say what this run
  itself called.
"""

from __future__ import annotations

import hashlib
import re

from service.evals.dropped import dropped_by_section, dropped_items
from service.evals.golden import META_FIELDS, GoldenMeta, GoldenReport
from service.evals.match import Candidate, Target, TextIndex, canon, found_edge, match
from service.evals.record import Cost, GoldenRef, MatchRef, RecordItem, ReportRecord, Scores, SectionScore
from service.models import SECTION_NAMES, ReportMeta, Span


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _date_key(value: str) -> tuple[int, ...] | str:
    # 2021-02-26, 2021年2月26日 and 2021/2/26 are the same date.
    numbers = re.findall(r"\d+", value)
    return tuple(int(n) for n in numbers[:3]) if len(numbers) >= 3 else canon(value)


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def meta_value_matches(field: str, expected: object, got: object) -> bool:
    if _empty(expected) or _empty(got):
        return _empty(expected) and _empty(got)
    if field == "year":
        try:
            return int(str(expected).strip()) == int(str(got).strip())
        except ValueError:
            return False
    if field == "published":
        return _date_key(str(expected)) == _date_key(str(got))
    return canon(str(expected)) == canon(str(got))


def meta_field_correct(field: str, golden: GoldenMeta, predicted: ReportMeta | None) -> bool:
    got = getattr(predicted, field) if predicted is not None else None
    options: list[object] = [getattr(golden, field), *golden.alternates.get(field, [])]
    return any(meta_value_matches(field, option, got) for option in options)


def span_exact(span: Span, text: str) -> bool:
    return 0 <= span.start <= span.end <= len(text) and text[span.start : span.end] == span.quote


def _candidate(item: RecordItem, text: str | None) -> Candidate:
    if text is not None:
        spans = tuple((s.start, s.end) for s in item.evidence if span_exact(s, text))
    else:
        # Without the text the record's own verdict is all there is to go on.
        spans = tuple((s.start, s.end) for s in item.evidence) if item.grounded else ()
    return Candidate(spans=spans, texts=item.texts(), title=item.title)


def _golden_refs(
    golden: GoldenReport, section: str, index: TextIndex | None, previous: dict[tuple[str, str], GoldenRef]
) -> list[GoldenRef]:
    refs = []
    for entry in golden.entries(section):
        ref = GoldenRef(label=entry.label, quote=entry.quote, category=entry.category)
        if index is not None:
            found = index.locate(entry.quote)
            if found is not None:
                ref.spans, ref.how, ref.score = list(found.spans), found.how, found.score
        else:
            old = previous.get((section, canon(entry.quote)))
            if old is not None:
                ref.spans, ref.how, ref.score = list(old.spans), old.how, old.score
        refs.append(ref)
    return refs


def evaluate_report(golden: GoldenReport, record: ReportRecord, text: str | None = None) -> ReportRecord:
    """Locate the golden quotes, check grounding, match and score; returns an updated copy.

    `text` is the normalized report text. It is used only when it is the text the record's spans
    index (same hash); otherwise the record's stored quote locations and grounding flags are used,
    so a record stays scoreable after the normalizer has changed or the report has gone.
    """
    rec = record.model_copy(deep=True)
    rec.golden_meta = golden.meta
    rec.genre, rec.split = golden.genre, golden.split.value
    rec.dropped = dropped_items(rec.warnings)
    dropped = dropped_by_section(rec.dropped)
    if text is not None and rec.text_sha256 not in (None, text_sha256(text)):
        text = None
    if text is not None:
        rec.text_sha256, rec.chars = text_sha256(text), len(text)
        for items in rec.items.values():
            for item in items:
                item.grounded = all(span_exact(s, text) for s in item.spans())
    index = TextIndex(text) if text is not None else None
    previous = {(section, canon(ref.quote)): ref for section, refs in record.golden.items() for ref in refs}

    rec.golden, rec.matches, rec.found = {}, {}, {}
    sections: dict[str, SectionScore] = {}
    category_pairs = category_agreed = 0
    for section in SECTION_NAMES:
        refs = _golden_refs(golden, section, index, previous)
        items = rec.items.get(section, [])
        targets = [Target(r.quote, tuple((s, e) for s, e in r.spans), r.label) for r in refs]
        candidates = [_candidate(item, text) for item in items]
        pairs = match(targets, candidates)
        found = match(targets, candidates, found_edge)
        rec.golden[section] = refs
        rec.matches[section] = [
            MatchRef(golden=p.golden, item=p.item, how=p.how, strength=p.strength) for p in pairs
        ]
        rec.found[section] = [
            MatchRef(golden=p.golden, item=p.item, how=p.how, strength=p.strength) for p in found
        ]
        sections[section] = SectionScore.of(
            len(pairs), len(items), len(refs), len(found), dropped.get(section, 0)
        )
        for p in pairs:
            expected = refs[p.golden].category
            if expected is not None:
                category_pairs += 1
                category_agreed += items[p.item].category == expected
    rec.scores = _report_scores(rec, golden, sections, category_pairs, category_agreed)
    return rec


def _report_scores(
    rec: ReportRecord,
    golden: GoldenReport,
    sections: dict[str, SectionScore],
    category_pairs: int,
    category_agreed: int,
) -> Scores:
    items = [item for section_items in rec.items.values() for item in section_items]
    # A report that failed produced no metadata, whatever the golden file expects (even null).
    meta_fields = {
        f: float(rec.error is None and meta_field_correct(f, golden.meta, rec.meta)) for f in META_FIELDS
    }
    grounded = sum(item.grounded for item in items)
    prov = rec.provenance
    cost = rec.original or (Cost.of(prov) if prov else Cost())
    llm = rec.llm
    pooled = SectionScore.of(0, 0, 0)
    for s in sections.values():
        pooled = pooled + s
    return Scores(
        reports=1,
        errors=int(rec.error is not None),
        sections=sections,
        items=pooled,
        meta_accuracy=round(sum(meta_fields.values()) / len(meta_fields), 4),
        meta_fields=meta_fields,
        grounded_items=grounded,
        grounding_rate=round(grounded / len(items), 4) if items else None,
        schema_valid=int(rec.schema_valid),
        schema_valid_rate=float(rec.schema_valid),
        category_pairs=category_pairs,
        category_agreed=category_agreed,
        category_agreement=round(category_agreed / category_pairs, 4) if category_pairs else None,
        prompt_tokens=cost.prompt_tokens,
        completion_tokens=cost.completion_tokens,
        calls=cost.calls,
        cache_hits=int(bool(prov and prov.cache_hit)),
        cost_usd=cost.cost_usd,
        latency_ms=cost.latency_ms,
        cached_reports=int(rec.cache == "cached"),
        live_calls=prov.llm_calls if prov else 0,
        reasks=(llm.reasks or 0) if llm else 0,
        splits=(llm.splits or 0) if llm else 0,
        rejected_modes=len(llm.rejected_modes or []) if llm else 0,
    )


def aggregate(per_report: list[Scores]) -> Scores:
    """Pool report scores: item counts are summed (micro-average), rates are over all reports/items."""
    n = len(per_report)
    if n == 0:
        return Scores(reports=0, schema_valid_rate=0.0)
    sections: dict[str, SectionScore] = {}
    for section in SECTION_NAMES:
        pooled = SectionScore.of(0, 0, 0)
        for s in per_report:
            pooled = pooled + s.sections.get(section, SectionScore.of(0, 0, 0))
        sections[section] = pooled
    items = SectionScore.of(0, 0, 0)
    for s in per_report:
        items = items + s.items
    meta_fields = {f: round(sum(s.meta_fields.get(f, 0.0) for s in per_report) / n, 4) for f in META_FIELDS}
    total_items = items.predicted
    grounded = sum(s.grounded_items for s in per_report)
    valid = sum(s.schema_valid for s in per_report)
    pairs = sum(s.category_pairs for s in per_report)
    agreed = sum(s.category_agreed for s in per_report)
    costs = [s.cost_usd for s in per_report if s.cost_usd is not None]
    return Scores(
        reports=n,
        errors=sum(s.errors for s in per_report),
        sections=sections,
        items=items,
        meta_accuracy=round(sum(meta_fields.values()) / len(meta_fields), 4),
        meta_fields=meta_fields,
        grounded_items=grounded,
        grounding_rate=round(grounded / total_items, 4) if total_items else None,
        schema_valid=valid,
        schema_valid_rate=round(valid / n, 4),
        category_pairs=pairs,
        category_agreed=agreed,
        category_agreement=round(agreed / pairs, 4) if pairs else None,
        prompt_tokens=sum(s.prompt_tokens for s in per_report),
        completion_tokens=sum(s.completion_tokens for s in per_report),
        calls=sum(s.calls for s in per_report),
        cache_hits=sum(s.cache_hits for s in per_report),
        cost_usd=round(sum(costs), 6) if costs else None,
        latency_ms=sum(s.latency_ms for s in per_report),
        cached_reports=sum(s.cached_reports for s in per_report),
        live_calls=sum(s.live_calls for s in per_report),
        reasks=sum(s.reasks for s in per_report),
        splits=sum(s.splits for s in per_report),
        rejected_modes=sum(s.rejected_modes for s in per_report),
    )
