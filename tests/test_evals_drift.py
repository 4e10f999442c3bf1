"""Drift against a baseline, detected on deliberately damaged runs."""

from __future__ import annotations

import json
from pathlib import Path

from evals_helpers import REPO_ROOT, make_repo, rules_run, without_item
from typer.testing import CliRunner

from service.cli import app
from service.evals.drift import compare, format_drift
from service.evals.golden import load_golden_dir
from service.evals.runner import rescore, save_record


def test_a_run_equal_to_its_baseline_does_not_drift(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    run = rules_run(golden_dir)
    assert run.scores.items.f1 == 1.0  # the made-up report is simple enough for the rules backend
    drift = compare(run, rules_run(golden_dir))
    assert not drift.failed and not drift.reports


def test_a_lost_problem_is_drift_and_is_named(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    goldens = load_golden_dir(golden_dir)
    baseline = rules_run(golden_dir)
    damaged = rescore(without_item(baseline, "qinghe", "problems", "行政执法规范化水平仍需提升"), goldens)

    drift = compare(baseline, damaged, tolerance=0.02)
    assert drift.failed
    drops = {(d.scope, d.key): d for d in drift.drops}
    assert drops["overall", "problems.recall"].current == round(2 / 3, 4)
    assert ("qinghe", "problems.recall") in drops
    assert ("overall", "problems.precision") not in drops  # the remaining items are all right
    (report,) = drift.reports
    assert [(e.section, e.label) for e in report.newly_missed] == [("problems", "执法规范化水平需提升")]
    assert [i.section for i in report.gone_items] == ["problems"]
    text = format_drift(drift, "rules.json")
    assert "DRIFT" in text and "newly missed problems #2: 执法规范化水平需提升" in text


def test_a_drop_within_the_tolerance_passes(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    baseline = rules_run(golden_dir)
    damaged = rescore(
        without_item(baseline, "qinghe", "problems", "行政执法规范化水平仍需提升"),
        load_golden_dir(golden_dir),
    )
    assert not compare(baseline, damaged, tolerance=0.5).failed


def test_a_new_item_is_listed(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    baseline = rules_run(golden_dir)
    changed = baseline.model_copy(deep=True)
    report = changed.reports[0]
    report.items["plans"].append(report.items["achievements"][0].model_copy())  # a wrong-section item
    changed = rescore(changed, load_golden_dir(golden_dir))
    drift = compare(baseline, changed)
    assert drift.failed  # plans precision 2/3
    (diff,) = drift.reports
    assert [(i.section, i.title) for i in diff.new_items] == [("plans", "深化政府职能转变")]
    assert not diff.newly_missed


def test_the_cli_fails_a_damaged_run_of_the_made_up_report(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    baseline = save_record(rules_run(golden_dir), tmp_path / "baseline.json")
    damaged = tmp_path / "damaged.json"
    save_record(
        without_item(rules_run(golden_dir), "qinghe", "problems", "行政执法规范化水平仍需提升"), damaged
    )
    result = CliRunner().invoke(
        app, ["eval", "--golden", str(golden_dir), "--from-run", str(damaged), "--baseline", str(baseline)]
    )
    assert result.exit_code == 1, result.output
    assert "newly missed problems #2: 执法规范化水平需提升" in result.output
    assert "drift:" in result.stderr


def test_the_cli_fails_a_damaged_rules_run_of_the_real_seeds(seed_paths: list[Path], tmp_path: Path) -> None:
    """Remove one problem from a rules run over the five seeds: `govbrief eval --baseline` exits 1 and
    names the golden entry that is now missed."""
    del seed_paths
    runner = CliRunner()
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["eval", "--backend", "rules", "--runs-dir", str(runs), "--label", "fresh"])
    assert result.exit_code == 0, result.output
    (run_file,) = runs.glob("*-fresh.json")
    data = json.loads(run_file.read_text(encoding="utf-8"))
    report = next(r for r in data["reports"] if r["id"].startswith("000_"))
    problems = report["items"]["problems"]
    report["items"]["problems"] = [
        it for it in problems if "行政执法监督的力度广度深度不够" not in it["evidence"][0]["quote"]
    ]
    assert len(report["items"]["problems"]) == len(problems) - 1
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    result = runner.invoke(
        app,
        [
            "eval",
            "--from-run",
            str(damaged),
            "--baseline",
            str(REPO_ROOT / "evals" / "baselines" / "rules.json"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "000_e288acb1be06d3f7 problems.recall: 1.000 → 0.750" in result.output
    assert "newly missed problems #3" in result.output
    assert "行政执法监督的力度广度深度不够" in result.output
