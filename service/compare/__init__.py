"""`govbrief compare`: read a batch's briefs, compare them, write CSV, JSON and an HTML page.

    compare.csv        one row per report: counts of achievements, problems and plans per category
    compare_long.csv   the same counts, one row per report × category (for pandas, R, pivot tables)
    problems.csv       recurring problems: one row per member of each group
    followups.csv      year N's plans against year N+1's achievements, per place
    compare.json       all of the above
    compare.html       one page for people (every value escaped: report text is untrusted)

CSV files carry a UTF-8 BOM so that spreadsheet programs open Chinese text correctly.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.batch.manifest import BRIEFS, Names, read_manifest_records, write_atomic
from service.compare.table import (
    SECTION_LABELS_ZH,
    SECTIONS,
    Comparison,
    FollowUp,
    ProblemGroup,
    ReportRow,
    build_comparison,
)
from service.models import CATEGORY_LABELS_ZH, Brief, Category
from service.templating import clip, environment

__all__ = [
    "Comparison",
    "FollowUp",
    "ProblemGroup",
    "ReportRow",
    "build_comparison",
    "load_briefs",
    "write_comparison",
]

_NOT_BRIEFS = {"manifest.json", "compare.json"}


def load_briefs(outdir: Path) -> list[tuple[str, Brief]]:
    """(name, brief) for every brief in a batch folder, in the manifest's order.

    Reads the manifest's records when there is one, else `briefs.jsonl`, else any `*.json` that is a
    Brief (a folder of `govbrief summarize -o` outputs works too). Unreadable files are skipped: a
    comparison of 999 reports is still worth having when one file was damaged.
    """
    records = read_manifest_records(outdir)
    out: list[tuple[str, Brief]] = []
    if records:
        for r in records:
            if r.status != "failed":
                brief = _read_brief(outdir / f"{r.name}.json")
                if brief is not None:
                    out.append((r.name, brief))
        return out
    jsonl = outdir / BRIEFS
    if jsonl.is_file():
        names = Names()
        for line in jsonl.read_text(encoding="utf-8").splitlines():
            try:
                brief = Brief.model_validate_json(line)
            except ValidationError:
                continue
            out.append((names.name_for(brief.source.path, Path(brief.source.path).stem), brief))
        return out
    for path in sorted(outdir.glob("*.json")):
        if path.name not in _NOT_BRIEFS:
            brief = _read_brief(path)
            if brief is not None:
                out.append((path.stem, brief))
    return out


def _read_brief(path: Path) -> Brief | None:
    try:
        return Brief.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


# --- writing ------------------------------------------------------------------------------------


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return "\ufeff" + buf.getvalue()


def _wide(c: Comparison) -> list[list[Any]]:
    header = ["report", "title", "issuer", "region", "year", *(f"total:{s}" for s in SECTIONS)]
    header += [f"{cat}:{s}" for cat in c.categories for s in SECTIONS]
    rows: list[list[Any]] = [header]
    for r in c.reports:
        row: list[Any] = [r.name, r.title or "", r.issuer or "", r.region or "", r.year or ""]
        row += [r.totals[s] for s in SECTIONS]
        row += [r.counts[cat][s] for cat in c.categories for s in SECTIONS]
        rows.append(row)
    return rows


def _long(c: Comparison) -> list[list[Any]]:
    rows: list[list[Any]] = [["report", "place", "year", "category", "category_zh", *SECTIONS]]
    for r in c.reports:
        for cat in c.categories:
            counts = r.counts[cat]
            rows.append(
                [
                    r.name,
                    r.place,
                    r.year or "",
                    cat,
                    CATEGORY_LABELS_ZH[Category(cat)],
                    *(counts[s] for s in SECTIONS),
                ]
            )
    return rows


def _problems(c: Comparison) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["group", "label", "places", "place", "year", "report", "category", "title", "keywords", "quote"]
    ]
    for n, g in enumerate(c.recurring, 1):
        for m in g.members:
            rows.append(
                [
                    n,
                    g.label,
                    len(g.places),
                    m.place,
                    m.year or "",
                    m.report,
                    m.category,
                    m.title,
                    "、".join(m.keywords),
                    clip(m.quote),
                ]
            )
    return rows


def _followups(c: Comparison) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            "place",
            "year",
            "next_year",
            "report",
            "next_report",
            "plan",
            "plan_category",
            "status",
            "achievement",
            "shared_keywords",
            "plan_quote",
            "achievement_quote",
        ]
    ]
    for f in c.followups:
        rows.append(
            [
                f.place,
                f.year,
                f.next_year,
                f.report,
                f.next_report,
                f.plan.title,
                f.plan.category,
                f.status,
                f.achievement.title if f.achievement else "",
                "、".join(f.shared_keywords),
                clip(f.plan.quote),
                clip(f.achievement_quote),
            ]
        )
    return rows


def _as_json(c: Comparison) -> dict[str, Any]:
    def ref(d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "keywords": list(d["keywords"]), "quotes": list(d["quotes"])}

    return {
        "categories": c.categories,
        "reports": [asdict(r) for r in c.reports],
        "recurring_problems": [
            {**asdict(g), "members": [ref(asdict(m)) for m in g.members]} for g in c.recurring
        ],
        "followups": [
            {
                **asdict(f),
                "plan": ref(asdict(f.plan)),
                "achievement": ref(asdict(f.achievement)) if f.achievement else None,
            }
            for f in c.followups
        ],
    }


def render_html(c: Comparison) -> str:
    return (
        environment()
        .get_template("compare.html")
        .render(
            c=c,
            sections=SECTIONS,
            section_labels=SECTION_LABELS_ZH,
            category_labels={cat.value: label for cat, label in CATEGORY_LABELS_ZH.items()},
            used_categories=_used_categories(c),
            by_place=_followups_by_pair(c.followups),
        )
    )


def _used_categories(c: Comparison) -> list[str]:
    """Columns for the page: categories some report has something in (all eleven are in the CSV)."""
    return [
        cat for cat in c.categories if any(sum(r.counts[cat].values()) for r in c.reports)
    ] or c.categories


def _followups_by_pair(links: list[FollowUp]) -> list[tuple[str, int, int, list[FollowUp]]]:
    pairs: dict[tuple[str, int, int], list[FollowUp]] = {}
    for f in links:
        pairs.setdefault((f.place, f.year, f.next_year), []).append(f)
    return [(place, y, ny, items) for (place, y, ny), items in pairs.items()]


def write_comparison(c: Comparison, target: Path) -> list[Path]:
    outputs = {
        "compare.csv": _csv(_wide(c)),
        "compare_long.csv": _csv(_long(c)),
        "problems.csv": _csv(_problems(c)),
        "followups.csv": _csv(_followups(c)),
        "compare.json": json.dumps(_as_json(c), ensure_ascii=False, indent=2) + "\n",
        "compare.html": render_html(c),
    }
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in outputs.items():
        write_atomic(target / name, text)
        written.append(target / name)
    return written
