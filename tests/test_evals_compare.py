"""The side-by-side HTML report."""

from __future__ import annotations

import re
from pathlib import Path

from evals_helpers import make_repo, rules_run, without_item

from service.evals.compare import build_view, render_compare
from service.evals.golden import load_golden_dir
from service.evals.record import RunRecord
from service.evals.runner import report_text, rescore, save_record
from service.models import Provenance, Span


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
    html = render_compare([a, b], ["v1", "v2"])
    overall = html.split('<h2 id="overall">Overall</h2>', 1)[1].split("</table>", 1)[0]
    recall = _row_with(overall, 'data-score="problems recall"')
    # A: 3/3 problems; B: 2/3.
    assert re.search(r">1\.000</td>\s*<td[^>]*>0\.667</td>\s*<td[^>]*>-0\.333<", recall), recall
    assert 'class="num worse"' in recall
    latency = _row_with(overall, 'data-score="latency_ms"')
    assert ">4321<" in latency
    assert "$0.0123" in _row_with(overall, 'data-score="cost_usd"')
    assert "v2: 4321 ms, $0.0123, 0 tokens, 0 calls" in html  # per report, next to its items


def test_the_differing_items_are_marked(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    html = render_compare([a, b], ["v1", "v2"])
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
    (report,) = build_view([a, b])["reports"]
    assert report.differences == 2
    assert build_view([a, a])["reports"][0].differences == 0


def _recite(record: RunRecord, golden_dir: Path, old: str, title: str, new_quote: str) -> RunRecord:
    """A copy where the problems item citing `old` is retitled and cites `new_quote` instead."""
    out = record.model_copy(deep=True)
    report = out.reports[0]
    (item,) = [it for it in report.items["problems"] if any(old in s.quote for s in it.evidence)]
    text = report_text(load_golden_dir(golden_dir)[0])
    assert text is not None
    start = text.index(new_quote)
    item.title = title
    item.evidence = [Span(quote=new_quote, start=start, end=start + len(new_quote))]
    return out


def test_three_runs_missed_entries_link_to_the_closest_unmatched_item(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    goldens = load_golden_dir(golden_dir)
    a = rules_run(golden_dir, label="v1")
    # v2: the item for the second problem keeps the golden title but cites another sentence (found,
    # not cited); v3: a near title citing another sentence (missed; the closest unmatched item).
    b = rescore(
        _recite(a, golden_dir, "行政执法规范化水平仍需提升", "执法规范化水平需提升", "对标示范指标查漏补缺"),
        goldens,
    )
    c = rescore(
        _recite(a, golden_dir, "行政执法规范化水平仍需提升", "行政执法规范化水平", "对标示范指标查漏补缺"),
        goldens,
    )
    problems = b.reports[0].scores.sections["problems"]
    assert (problems.matched, problems.found, problems.predicted) == (2, 3, 3)
    assert problems.recall < problems.found_recall == 1.0
    html = render_compare([a, b, c], ["v1", "v2", "v3"])
    row = _row_with(html, "“行政执法规范化水平仍需提升”")
    assert row.startswith('<tr class="golden diff">')
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[1:]
    assert "matched" in cells[0] and "found" in cells[1] and "missed" in cells[2]
    link = re.search(r'closest unmatched item: <a href="#([^"]+)">行政执法规范化水平</a>', cells[2])
    assert link, cells[2]
    assert f'id="{link.group(1)}"' in html  # the link leads to v3's unmatched item
    assert html.count("<th>v3</th>") >= 2  # a column per run
    # Navigation by report and section, differences only by default.
    assert '<a href="#qinghe-problems">problems</a>' in html
    assert '<body class="only-diff">' in html and 'id="only-diff" checked' in html


def test_cost_is_coloured_only_when_both_runs_called_the_model(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    a = rules_run(golden_dir, label="live")
    a.settings.backend = "openai"
    a.reports[0].cache = "live"
    a.reports[0].provenance = Provenance(backend="openai", schema_hash="h", llm_calls=2, cost_usd=0.02)
    b = a.model_copy(deep=True)
    b.reports[0].provenance = Provenance(backend="openai", schema_hash="h", llm_calls=3, cost_usd=0.03)
    goldens = load_golden_dir(golden_dir)
    a, b = rescore(a, goldens), rescore(b, goldens)
    cached = b.model_copy(deep=True)
    cached.reports[0].cache = "cached"
    cached = rescore(cached, goldens)
    html = render_compare([a, b, cached], ["a", "b", "c"])
    cost = _row_with(html.split('<h2 id="overall">', 1)[1].split("</table>", 1)[0], 'data-score="cost_usd"')
    deltas = re.findall(r'<td class="num ([a-z]+)">', cost)
    assert deltas == ["worse", "cached"]  # a→b both live: coloured; a→c cached: not


def test_compare_cli_takes_runs_by_label(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    golden_dir = make_repo(tmp_path)
    runs = golden_dir.parent / "runs"
    for label in ("one", "two", "three"):
        result = CliRunner().invoke(
            app, ["eval", "-b", "rules", "--golden", str(golden_dir), "--label", label]
        )
        assert result.exit_code == 0, result.output
    save_record(rules_run(golden_dir), tmp_path / "elsewhere.json")
    out = tmp_path / "cmp.html"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "compare",
            "one",
            "two",
            "three",
            str(tmp_path / "elsewhere.json"),
            "-o",
            str(out),
            "--golden",
            str(golden_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("items F1 1.000 → 1.000") == 3
    assert sorted(runs.glob("*.json")) and out.read_text(encoding="utf-8").count("<th>elsewhere</th>") >= 1
    result = CliRunner().invoke(app, ["eval", "compare", "one", "--golden", str(golden_dir)])
    assert result.exit_code == 2 and "two or more runs" in result.stderr
