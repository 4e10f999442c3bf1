"""The CI guard: the rules backend on the five seeds against the blessed baseline.

A change in normalization, outline or the rules backend that loses a golden entry (or adds a wrong
item) fails here. If the change is an improvement, re-bless:
`govbrief eval --backend rules --bless rules` and commit evals/baselines/rules.json.
"""

from __future__ import annotations

from pathlib import Path

from evals_helpers import REPO_ROOT
from typer.testing import CliRunner

from service.cli import app
from service.evals.runner import load_record

BASELINE = REPO_ROOT / "evals" / "baselines" / "rules.json"


def test_the_rules_baseline_is_a_rules_run_over_the_whole_golden_set() -> None:
    baseline = load_record(BASELINE)
    assert baseline.settings.backend == "rules"
    assert len(baseline.reports) == len(list((REPO_ROOT / "evals" / "golden").glob("*.json")))
    assert all(r.error is None for r in baseline.reports)


def test_the_rules_backend_does_not_drift_from_its_baseline(seed_paths: list[Path], tmp_path: Path) -> None:
    del seed_paths  # skips when the seed reports are absent
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--backend", "rules",
            "--golden", str(REPO_ROOT / "evals" / "golden"),
            "--baseline", str(BASELINE),
            "--runs-dir", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output
