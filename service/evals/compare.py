"""`govbrief eval compare`: two run records side by side as one HTML page.

For each report and section the rows are the golden entries (what each run matched to it, with the
evidence) followed by the items that matched nothing, paired across the runs when they are the same
item. A row where one run has something and the other has not is marked `diff`; a golden entry both
runs matched, but with different items or evidence, is marked `changed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.evals.drift import item_similarity, pair_items
from service.evals.match import canon
from service.evals.record import RecordItem, ReportRecord, RunRecord, Scores
from service.models import SECTION_NAMES
from service.templating import environment

TEMPLATE = "eval_compare.html"

#: Scores where a lower number is the better one.
_LOWER_IS_BETTER = {"tokens", "calls", "cost_usd", "latency_ms"}


@dataclass
class ScoreRow:
    name: str
    a: str
    b: str
    delta: str
    cls: str  # better | worse | same | na


@dataclass
class Row:
    kind: str  # golden | extra
    label: str
    quote: str
    a: RecordItem | None
    b: RecordItem | None
    a_status: str  # matched | missed | extra | none
    b_status: str
    cls: str  # diff | changed | same


@dataclass
class SectionView:
    name: str
    rows: list[Row] = field(default_factory=list)
    a_score: str = ""
    b_score: str = ""


@dataclass
class ReportView:
    id: str
    path: str
    scores: list[ScoreRow]
    sections: list[SectionView]
    a_error: str | None
    b_error: str | None
    a_warnings: list[str]
    b_warnings: list[str]
    differences: int
    a_cost: str
    b_cost: str


def _fmt(name: str, value: float | int | None) -> str:
    if value is None:
        return "—"
    if name == "cost_usd":
        return f"${value:.4f}"
    if name in ("tokens", "calls", "latency_ms", "cache_hits", "errors"):
        return f"{int(value)}"
    return f"{value:.3f}"


def _score_values(s: Scores) -> list[tuple[str, float | int | None]]:
    out: list[tuple[str, float | int | None]] = []
    for section in SECTION_NAMES:
        sec = s.sections.get(section)
        if sec is not None:
            out += [
                (f"{section} precision", sec.precision),
                (f"{section} recall", sec.recall),
                (f"{section} F1", sec.f1),
            ]
    out += [
        ("items F1", s.items.f1),
        ("meta accuracy", s.meta_accuracy),
        ("grounding rate", s.grounding_rate),
        ("schema-valid rate", s.schema_valid_rate),
        ("category agreement", s.category_agreement),
        ("errors", s.errors),
        ("tokens", s.tokens),
        ("calls", s.calls),
        ("cache_hits", s.cache_hits),
        ("cost_usd", s.cost_usd),
        ("latency_ms", s.latency_ms),
    ]
    return out


def score_rows(a: Scores | None, b: Scores | None) -> list[ScoreRow]:
    a_vals = dict(_score_values(a)) if a is not None else {}
    b_vals = dict(_score_values(b)) if b is not None else {}
    names = list(dict.fromkeys([*a_vals, *b_vals]))
    rows = []
    for name in names:
        va, vb = a_vals.get(name), b_vals.get(name)
        if va is None or vb is None:
            rows.append(ScoreRow(name, _fmt(name, va), _fmt(name, vb), "", "na"))
            continue
        delta = vb - va
        if abs(delta) < 1e-9 or name in ("cache_hits",):
            cls = "same"
        else:
            worse = (delta > 0) if name in _LOWER_IS_BETTER or name == "errors" else (delta < 0)
            cls = "worse" if worse else "better"
        shown = _fmt(name, delta) if name != "cost_usd" else f"{delta:+.4f}"
        if name not in ("cost_usd",) and delta > 0:
            shown = "+" + shown
        rows.append(ScoreRow(name, _fmt(name, va), _fmt(name, vb), "" if cls == "same" else shown, cls))
    return rows


def _status(item: int | None) -> str:
    return "matched" if item is not None else "missed"


def _section_rows(section: str, ra: ReportRecord | None, rb: ReportRecord | None) -> list[Row]:
    a_refs = ra.golden.get(section, []) if ra else []
    b_refs = rb.golden.get(section, []) if rb else []
    a_items = ra.items.get(section, []) if ra else []
    b_items = rb.items.get(section, []) if rb else []
    b_index = {canon(ref.quote): i for i, ref in enumerate(b_refs)}
    rows: list[Row] = []
    used_a: set[int] = set()
    used_b: set[int] = set()
    seen_b: set[int] = set()
    for gi, ref in enumerate(a_refs):
        ai = ra.matched_item(section, gi) if ra else None
        bg = b_index.get(canon(ref.quote))
        bi = rb.matched_item(section, bg) if rb is not None and bg is not None else None
        if bg is not None:
            seen_b.add(bg)
        rows.append(_golden_row(ref.label, ref.quote, a_items, b_items, ai, bi))
        used_a |= {ai} if ai is not None else set()
        used_b |= {bi} if bi is not None else set()
    for gi, ref in enumerate(b_refs):
        if gi in seen_b:
            continue
        bi = rb.matched_item(section, gi) if rb else None
        rows.append(_golden_row(ref.label, ref.quote, a_items, b_items, None, bi))
        used_b |= {bi} if bi is not None else set()
    extra_a = [i for i in range(len(a_items)) if i not in used_a]
    extra_b = [j for j in range(len(b_items)) if j not in used_b]
    paired = pair_items([a_items[i] for i in extra_a], [b_items[j] for j in extra_b])
    paired_a = {extra_a[i]: extra_b[j] for i, j in paired}
    paired_b = set(paired_a.values())
    for i in extra_a:
        j = paired_a.get(i)
        a_item, b_item = a_items[i], b_items[j] if j is not None else None
        if b_item is None:
            cls = "diff"
        else:
            cls = (
                "same"
                if item_similarity(a_item, b_item) >= 100 and _evidence(a_item) == _evidence(b_item)
                else "changed"
            )
        rows.append(Row("extra", "", "", a_item, b_item, "extra", "extra" if b_item else "none", cls))
    for j in extra_b:
        if j not in paired_b:
            rows.append(Row("extra", "", "", None, b_items[j], "none", "extra", "diff"))
    return rows


def _evidence(item: RecordItem) -> list[str]:
    return [s.quote for s in item.evidence]


def _golden_row(
    label: str,
    quote: str,
    a_items: list[RecordItem],
    b_items: list[RecordItem],
    ai: int | None,
    bi: int | None,
) -> Row:
    a_item = a_items[ai] if ai is not None else None
    b_item = b_items[bi] if bi is not None else None
    if (a_item is None) != (b_item is None):
        cls = "diff"
    elif (
        a_item is not None
        and b_item is not None
        and (a_item.title != b_item.title or _evidence(a_item) != _evidence(b_item))
    ):
        cls = "changed"
    else:
        cls = "same"
    return Row("golden", label, quote, a_item, b_item, _status(ai), _status(bi), cls)


def _section_score(r: ReportRecord | None, section: str) -> str:
    if r is None or section not in r.scores.sections:
        return "—"
    s = r.scores.sections[section]
    return f"P {s.precision:.2f} · R {s.recall:.2f} · F1 {s.f1:.2f}"


def _cost_line(r: ReportRecord | None) -> str:
    if r is None:
        return "—"
    s = r.scores
    cost = "no cost" if s.cost_usd is None else f"${s.cost_usd:.4f}"
    cached = ", cached" if s.cache_hits else ""
    return f"{s.latency_ms} ms, {cost}, {s.tokens} tokens, {s.calls} calls{cached}"


def build_view(a: RunRecord, b: RunRecord) -> dict[str, Any]:
    a_by_id = {r.id: r for r in a.reports}
    b_by_id = {r.id: r for r in b.reports}
    reports = []
    for rid in dict.fromkeys([*a_by_id, *b_by_id]):
        ra, rb = a_by_id.get(rid), b_by_id.get(rid)
        either = ra if ra is not None else rb
        sections = []
        for section in SECTION_NAMES:
            view = SectionView(
                section,
                _section_rows(section, ra, rb),
                _section_score(ra, section),
                _section_score(rb, section),
            )
            sections.append(view)
        reports.append(
            ReportView(
                id=rid,
                path=either.path if either is not None else "",
                scores=score_rows(ra.scores if ra else None, rb.scores if rb else None),
                sections=sections,
                a_error=ra.error if ra else "not in this run",
                b_error=rb.error if rb else "not in this run",
                a_warnings=ra.warnings if ra else [],
                b_warnings=rb.warnings if rb else [],
                differences=sum(row.cls != "same" for s in sections for row in s.rows),
                a_cost=_cost_line(ra),
                b_cost=_cost_line(rb),
            )
        )
    return {"a": a, "b": b, "overall": score_rows(a.scores, b.scores), "reports": reports}


def render_compare(a: RunRecord, b: RunRecord, *, name_a: str = "A", name_b: str = "B") -> str:
    view = build_view(a, b)
    return environment().get_template(TEMPLATE).render(name_a=name_a, name_b=name_b, **view)
