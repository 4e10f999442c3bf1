"""Shared fixtures: the real seed reports (outside the repo, may be absent) and the bundled sample.

The seeds are third-party text and live beside the checkout (../shared/seeds), not in it. Locally a
test that needs them is skipped when they are missing; in CI (the CI environment variable set, as
every CI service does) a missing or empty seeds folder FAILS those tests instead, so a broken
checkout cannot pass by skipping the real-report tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from service.ingest import sample_path

SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"

# The store and job tests' engines (SQLite, PostgreSQL): fixtures `database_url`, `postgres_url`.
pytest_plugins = ["databases"]


def in_ci() -> bool:
    """True when the CI variable is set to anything but an explicit no ("", "0", "false", "no")."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _seed_files() -> list[Path]:
    return sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []


def _seeds_problem() -> str | None:
    if not SEEDS_DIR.is_dir():
        return f"seed reports not found at {SEEDS_DIR}"
    if not _seed_files():
        return f"no seed reports (*.txt) in {SEEDS_DIR}"
    return None


def seeds_missing(problem: str) -> NoReturn:
    """Skip locally; fail in CI, where the seeds must be there."""
    if in_ci():
        pytest.fail(f"{problem} (CI is set: the seed reports are required)", pytrace=False)
    pytest.skip(problem)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `seed_path` runs once per seed; with no seeds it is skipped (locally) or
    fails (in CI), one test each, never silently collected as an empty set."""
    if "seed_path" in metafunc.fixturenames:
        seeds = _seed_files()
        if seeds:
            metafunc.parametrize("seed_path", seeds, ids=[p.stem.split("_")[0] for p in seeds])
        else:
            problem = _seeds_problem() or "no seed reports"
            metafunc.parametrize("seed_path", [pytest.param(problem, id="no-seeds")], indirect=True)


@pytest.fixture
def seed_path(request: pytest.FixtureRequest) -> Path:
    """Only reached with the "no-seeds" placeholder (real seeds are parametrized directly)."""
    seeds_missing(str(request.param))


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS_DIR.is_dir():
        seeds_missing(f"seed reports not found at {SEEDS_DIR}")
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seed_paths(seeds_dir: Path) -> list[Path]:
    paths = _seed_files()
    if not paths:
        seeds_missing(f"no seed reports (*.txt) in {seeds_dir}")
    return paths


@pytest.fixture(scope="session")
def sample_report_path() -> Path:
    return sample_path()
