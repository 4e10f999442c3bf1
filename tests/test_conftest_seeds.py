"""The seed fixtures of conftest.py: a missing seeds folder skips locally but FAILS in CI.

Each case runs pytest in a subprocess on a copy of conftest.py placed where ../shared/seeds is
whatever the case needs (missing, empty, or two small reports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

USES_THE_SEEDS = """
from pathlib import Path


def test_dir(seeds_dir: Path) -> None:
    assert seeds_dir.is_dir()


def test_paths(seed_paths: list[Path]) -> None:
    assert seed_paths


def test_each(seed_path: Path) -> None:
    assert seed_path.is_file()
"""


def _run(tmp_path: Path, *, ci: str | None, seeds: list[str] | None) -> subprocess.CompletedProcess[str]:
    """pytest over a checkout at tmp_path/work/main whose ../shared/seeds holds `seeds` (None: absent)."""
    tests = tmp_path / "work" / "main" / "tests"
    tests.mkdir(parents=True)
    shutil.copy(CONFTEST, tests / "conftest.py")
    (tests / "test_uses_the_seeds.py").write_text(USES_THE_SEEDS, encoding="utf-8")
    if seeds is not None:
        folder = tmp_path / "work" / "shared" / "seeds"
        folder.mkdir(parents=True)
        for name in seeds:
            (folder / name).write_text("报告", encoding="utf-8")
    # No third-party plugins (hypothesis, schemathesis): they only cost start-up time here.
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", str(tests)],
        cwd=tests.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("ci", "seeds", "problem", "passed"),
    [
        ("true", None, "seed reports not found at", 0),
        ("1", None, "seed reports not found at", 0),
        ("true", [], "no seed reports (*.txt) in", 1),  # the folder is there: seeds_dir itself passes
    ],
    ids=["missing", "missing-ci-1", "empty"],
)
def test_missing_seeds_fail_in_ci(
    tmp_path: Path, ci: str, seeds: list[str] | None, problem: str, passed: int
) -> None:
    done = _run(tmp_path, ci=ci, seeds=seeds)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "skipped" not in out and f"{3 - passed} error" in out, out
    assert out.count("(CI is set: the seed reports are required)") >= 3 - passed, out
    assert problem in out
    assert (f"{passed} passed" in out) == bool(passed), out


@pytest.mark.parametrize("ci", [None, "false"])
def test_missing_seeds_skip_locally(tmp_path: Path, ci: str | None) -> None:
    done = _run(tmp_path, ci=ci, seeds=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 skipped" in done.stdout and "failed" not in done.stdout, done.stdout
    assert "seed reports not found" in done.stdout


def test_present_seeds_run_in_ci(tmp_path: Path) -> None:
    done = _run(tmp_path, ci="true", seeds=["000_a.txt", "001_b.txt"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout  # test_each once per seed
