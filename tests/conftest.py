"""Shared fixtures: the real reports checked into evals/reports/ and the bundled sample.

`seed_path` runs a test once per real 法治政府建设年度报告 (evals/reports/seeds/); `gwr_path` once per
政府工作报告 (evals/reports/gwr/). They are part of the repository, so nothing is ever skipped for them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest import sample_path

REPORTS_DIR = Path(__file__).resolve().parents[1] / "evals" / "reports"
SEEDS_DIR = REPORTS_DIR / "seeds"
GWR_DIR = REPORTS_DIR / "gwr"


def _files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.txt"))
    assert files, f"no reports in {folder}: the checkout is broken"
    return files


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name, folder in (("seed_path", SEEDS_DIR), ("gwr_path", GWR_DIR)):
        if name in metafunc.fixturenames:
            files = _files(folder)
            metafunc.parametrize(
                name, files, ids=[p.stem.split("_")[0] if name == "seed_path" else p.stem for p in files]
            )


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS_DIR


@pytest.fixture(scope="session")
def seed_paths() -> list[Path]:
    return _files(SEEDS_DIR)


@pytest.fixture(scope="session")
def gwr_paths() -> list[Path]:
    return _files(GWR_DIR)


@pytest.fixture(scope="session")
def sample_report_path() -> Path:
    return sample_path()
