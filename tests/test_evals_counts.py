"""Counts beside scores (golden / predicted / matched / found / dropped), dropped items and why, and
the dev/test split with scores per genre."""

from __future__ import annotations

import json
from pathlib import Path

from evals_helpers import make_repo, rules_run
from typer.testing import CliRunner

from service.cli import app
from service.evals.dropped import dropped_items, summarize_dropped
from service.evals.golden import load_golden_dir
from service.evals.runner import load_record, rescore
from service.models import Genre

runner = CliRunner()

WARNINGS = [
    "dropped problems item '执法不规范': no evidence could be grounded",
    "dropped problems item '宣传不均衡': no evidence could be grounded",
    "chunk c3: item '示范创建' dropped: it cites sentence ids not in the chunk (s99)",
    "chunk c4: no usable answer, its items are missing (timed out)",
    "the report has a plans section (计划) but no plans item was extracted",
    "achievements item 'x': metric '审核文件 35件' not found in its evidence, dropped",
]


def test_dropped_items_are_read_from_the_warnings() -> None:
    dropped = dropped_items(WARNINGS)
    assert [(d.section, d.title) for d in dropped] == [
        ("problems", "执法不规范"),
        ("problems", "宣传不均衡"),
        (None, "示范创建"),
        (None, "c4"),
    ]
    assert summarize_dropped(dropped)[0] == ("no evidence could be grounded", 2)


def test_counts_show_what_precision_hides(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    goldens = load_golden_dir(golden_dir)
    record = rules_run(golden_dir)
    # Every problem dropped: precision is vacuous (nothing predicted), the counts say why.
    record.reports[0].items["problems"] = []
    record.reports[0].warnings += WARNINGS[:2]
    scored = rescore(record, goldens)
    problems = scored.reports[0].scores.sections["problems"]
    assert (problems.golden, problems.predicted, problems.matched, problems.found, problems.dropped) == (
        3,
        0,
        0,
        0,
        2,
    )
    assert problems.recall == 0.0 and problems.f1 == 0.0
    assert scored.scores.items.dropped == 2


def test_table_groups_by_genre_and_split_and_json_has_both(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path, test_split=True)
    g = ["--golden", str(golden_dir), "--runs-dir", str(tmp_path / "runs")]
    result = runner.invoke(app, ["eval", "-b", "rules", *g])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{Genre.rule_of_law_report.label_zh} (2)" in out and "split dev" in out and "split test" in out
    assert "1.00 / 1.00" in out  # F1 cited / found
    assert "golden/predicted/matched(cited)/found/dropped" in out and "3/3/3/3/0" in out
    result = runner.invoke(
        app, ["eval", "-b", "rules", *g, "--split", "test", "--format", "json", "--label", "t"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [r["id"] for r in summary["reports"]] == ["qinghe_test"] and summary["split"] == "test"
    assert list(summary["splits"]) == ["test"]
    section = summary["genres"]["rule_of_law_report"]["sections"]["problems"]
    assert section["recall"] == {"mean": 1.0, "sd": None} and section["dropped"] == 0
    assert load_record(next((tmp_path / "runs").glob("*-t.json"))).settings.split == "test"
    result = runner.invoke(
        app, ["eval", "-b", "rules", *g, "--split", "test", "--format", "json", "--baseline", "t"]
    )
    assert result.exit_code == 0, result.stderr  # a baseline of the test split, found by its label
    assert json.loads(result.stdout)["drift"] == []
