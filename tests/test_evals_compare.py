"""The side-by-side HTML report."""

from __future__ import annotations

import re
from pathlib import Path

from evals_helpers import make_repo, rules_run, without_item

from service.evals.compare import build_view, render_compare
from service.evals.golden import load_golden_dir
from service.evals.record import RunRecord
from service.evals.runner import rescore
from service.models import Provenance


def _runs(tmp_path: Path) -> tuple[RunRecord, RunRecord]:
    golden_dir = make_repo(tmp_path)
    goldens = load_golden_dir(golden_dir)
    a = rules_run(golden_dir, label="v1")
    b = without_item(rules_run(golden_dir, label="v2"), "qinghe", "problems", "行政执法规范化水平仍需提升")
    # An item only run B has, with markup in it that must come out escaped.
    extra = b.reports[0].items["plans"][0].model_copy(update={"title": "<script>alert(1)</script>新增计划"})
    b.reports[0].items["plans"].append(extra)
    b.reports[0].provenance = Provenance(backend="openai", schema_hash="h", cost_usd=0.0123, elapsed_ms=4321)
    return a, rescore(b, goldens)


def _row_with(html: str, text: str) -> str:
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S) if text in r]
    assert len(rows) == 1, (text, len(rows))
    return rows[0]


def test_the_report_shows_both_runs_scores(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    html = render_compare(a, b, name_a="v1", name_b="v2")
    overall = html.split("<h2>Overall</h2>", 1)[1].split("</table>", 1)[0]
    recall = _row_with(overall, 'data-score="problems recall"')
    # A: 3/3 problems; B: 2/3.
    assert re.search(r">1\.000</td>\s*<td[^>]*>0\.667</td>\s*<td[^>]*>-0\.333<", recall), recall
    assert 'class="score worse"' in recall
    latency = _row_with(overall, 'data-score="latency_ms"')
    assert ">4321<" in latency
    assert "$0.0123" in _row_with(overall, 'data-score="cost_usd"')
    assert "v2: 4321 ms, $0.0123, 0 tokens, 0 calls" in html  # per report, next to its items


def test_the_differing_items_are_marked(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    html = render_compare(a, b, name_a="v1", name_b="v2")
    missed = _row_with(html, "执法规范化水平需提升")  # golden entry B lost
    assert missed.startswith('<tr class="golden diff">')
    assert "行政执法规范化水平仍需提升" in missed  # A's evidence shown
    assert '<span class="missed">missed</span>' in missed
    same = _row_with(html, "干部法治思维能力待增强")
    assert same.startswith('<tr class="golden same">')
    extra = _row_with(html, "新增计划")
    assert extra.startswith('<tr class="extra diff">')
    assert "&lt;script&gt;alert(1)&lt;/script&gt;新增计划" in extra
    assert "<script>" not in html


def test_the_view_counts_differences_per_report(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    (report,) = build_view(a, b)["reports"]
    assert report.differences == 2
    assert build_view(a, a)["reports"][0].differences == 0
