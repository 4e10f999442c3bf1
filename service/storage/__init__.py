"""Where briefs, jobs and LLM answers are kept: SQLite and diskcache under the data and cache
directories by default, PostgreSQL for all three when GOVBRIEF_DATABASE_URL is set."""

from __future__ import annotations

from pathlib import Path

from service.errors import ConfigError
from service.llm.cache import AnswerCache, Cache
from service.settings import Settings
from service.storage.base import Store


def open_store(settings: Settings) -> Store:
    if settings.database_url:
        return _postgres(settings.database_url)
    from service.storage.sqlite import SQLiteStore

    return SQLiteStore(settings.data_dir / "briefs.sqlite3")


def open_answer_cache(settings: Settings, *, enabled: bool = True, refresh: bool = False) -> Cache:
    if settings.database_url:
        from service.storage.pg_cache import PostgresAnswerCache

        try:
            return PostgresAnswerCache(settings.database_url, enabled=enabled, refresh=refresh)
        except Exception as e:
            raise ConfigError(f"cannot use the database in GOVBRIEF_DATABASE_URL: {_first_line(e)}") from None
    return AnswerCache(Path(settings.cache_dir) / "llm", enabled=enabled, refresh=refresh)


def _postgres(url: str) -> Store:
    from service.storage.postgres import PostgresStore

    try:
        return PostgresStore(url)
    except Exception as e:  # psycopg's errors, a pool timeout: one line, naming the setting
        raise ConfigError(f"cannot use the database in GOVBRIEF_DATABASE_URL: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
