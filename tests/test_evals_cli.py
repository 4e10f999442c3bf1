"""`govbrief eval` end to end on the made-up golden set: run, bless, check, compare, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals_helpers import make_repo, without_item
from typer.testing import CliRunner

from service.cli import app
from service.evals.runner import load_record, save_record

runner = CliRunner()


def test_run_bless_check_and_compare(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    runs = tmp_path / "runs"
    g = ["--golden", str(golden_dir)]

    result = runner.invoke(
        app, ["eval", "-b", "rules", *g, "--runs-dir", str(runs), "--label", "first", "--bless", "rules"]
    )
    assert result.exit_code == 0, result.output
    (run_file,) = runs.glob("*-first.json")
    assert run_file.name[:8].isdigit()
    assert f"run record: {run_file}" in result.output
    assert "overall" in result.output and "problems" in result.output
    blessed = golden_dir.parent / "baselines" / "rules.json"  # a bare NAME lands next to the golden set
    assert blessed.is_file()

    record = load_record(run_file)
    assert record.label == "first" and record.settings.backend == "rules"
    assert record.settings.golden_hash and record.settings.schema_hash
    (report,) = record.reports
    assert report.scores.sections["problems"].recall == 1.0
    assert sum(len(v) for v in report.items.values()) == 8  # every item is kept
    assert "text" not in json.loads(run_file.read_text(encoding="utf-8"))["reports"][0]  # no report text

    result = runner.invoke(
        app, ["eval", "-b", "rules", *g, "--runs-dir", str(runs), "--baseline", str(blessed)]
    )
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output

    damaged = save_record(
        without_item(record, "qinghe", "problems", "基层法治宣传覆盖不够均衡"), tmp_path / "damaged.json"
    )
    result = runner.invoke(app, ["eval", *g, "--from-run", str(damaged), "--baseline", str(blessed)])
    assert result.exit_code == 1
    assert "newly missed problems #3: 基层普法覆盖不均衡" in result.output

    html = tmp_path / "cmp.html"
    result = runner.invoke(app, ["eval", "compare", str(run_file), str(damaged), "-o", str(html), *g])
    assert result.exit_code == 0, result.output
    assert "items F1 1.000 → 0.933" in result.output
    page = html.read_text(encoding="utf-8")
    assert page.count('<tr class="golden diff">') == 1 and "基层普法覆盖不均衡" in page

    # Names resolve under evals/runs and evals/baselines.
    result = runner.invoke(app, ["eval", "compare", "rules", str(damaged), *g])
    assert result.exit_code == 0, result.output
    assert (golden_dir.parent / "runs" / "compare-rules-vs-damaged.html").is_file()


def test_bad_input_exits_2(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    result = runner.invoke(app, ["eval", "-b", "rules", "--golden", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "golden directory not found" in result.stderr
    result = runner.invoke(
        app, ["eval", "-b", "rules", "--golden", str(golden_dir), "--baseline", str(tmp_path / "no.json")]
    )
    assert result.exit_code == 2 and "run record not found" in result.stderr
    (tmp_path / "junk.json").write_text('{"label": 1}', encoding="utf-8")
    result = runner.invoke(app, ["eval", "compare", str(tmp_path / "junk.json"), str(tmp_path / "junk.json")])
    assert result.exit_code == 2 and "not a govbrief run record" in result.stderr


def test_a_failed_report_fails_the_run(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    (tmp_path / "repo" / "reports" / "qinghe.txt").write_text(
        "<html>首页 | 登录 | 注册</html>", encoding="utf-8"
    )
    result = runner.invoke(
        app, ["eval", "-b", "rules", "--golden", str(golden_dir), "--runs-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 1
    assert "1 report(s) failed: qinghe" in result.stderr
    (run_file,) = (tmp_path / "r").glob("*.json")
    assert load_record(run_file).scores.errors == 1


def test_the_installed_command_runs(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main()", "eval", "-b", "rules",
         "--golden", str(golden_dir), "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "overall" in done.stdout
