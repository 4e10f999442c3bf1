"""The engines the store and job tests run against: SQLite always, PostgreSQL where there is one.

PostgreSQL comes from GOVBRIEF_TEST_DATABASE_URL (`.ci/run` starts a throwaway cluster and sets it;
locally: `scripts/throwaway_postgres.sh`). Without one the PostgreSQL cases are skipped, except under
CI, where they fail: CI must test the engine the service scales out on. Each test gets a schema of
its own (through `search_path` in the URL), dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

ENGINES = ["sqlite", "postgresql"]


def in_ci() -> bool:
    """True when the CI variable is set to anything but an explicit no ("", "0", "false", "no")."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(problem: str) -> None:
    if in_ci():
        pytest.fail(f"{problem} (CI is set: the PostgreSQL tests are required; .ci/run starts a server)")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = os.environ.get("GOVBRIEF_TEST_DATABASE_URL", "")
    if not url:
        _unavailable("no PostgreSQL: GOVBRIEF_TEST_DATABASE_URL is not set")
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        _unavailable(
            f"cannot reach PostgreSQL at GOVBRIEF_TEST_DATABASE_URL: {str(e).strip().splitlines()[0]}"
        )
    return url


def with_schema(url: str, schema: str) -> str:
    option = "options=" + quote(f"-csearch_path={schema}")
    return url + ("&" if "?" in url else "?") + option


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield with_schema(postgres_server, schema)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite (the default store), a fresh schema's URL for PostgreSQL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url
