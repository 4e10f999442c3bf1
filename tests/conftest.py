"""Shared fixtures: the real seed reports (outside the repo, may be absent) and the bundled sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest import sample_path

# The seeds live beside the checkout (shared/seeds), not in it: they are third-party text.
SEEDS_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _seed_files() -> list[Path]:
    return sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `seed_path` runs once per seed (and is skipped when there are none)."""
    if "seed_path" in metafunc.fixturenames:
        seeds = _seed_files()
        metafunc.parametrize("seed_path", seeds, ids=[p.stem.split("_")[0] for p in seeds])


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS_DIR.is_dir():
        pytest.skip(f"seed reports not found at {SEEDS_DIR}")
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seed_paths(seeds_dir: Path) -> list[Path]:
    paths = _seed_files()
    if not paths:
        pytest.skip(f"no seed reports (*.txt) in {seeds_dir}")
    return paths


@pytest.fixture(scope="session")
def sample_report_path() -> Path:
    return sample_path()
