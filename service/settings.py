"""Settings from the environment (GOVBRIEF_*), read once per process by `get_settings()`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Every setting is read from the environment variable ENV_PREFIX + its name in upper case.
ENV_PREFIX = "GOVBRIEF_"

StructuredMode = Literal["json_schema", "json_object_schema", "json_object", "text", "auto"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore")

    # Which backend a request gets when it names none: the LLM if one is configured, else rules.
    backend: Literal["auto", "rules", "openai"] = "auto"

    # --- LLM endpoint (any OpenAI-compatible server) ---
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_concurrency: int = Field(default=4, ge=1, le=256)
    llm_max_retries: int = Field(default=4, ge=0)
    llm_max_call_seconds: float = Field(
        default=180.0, gt=0, description="Bound on one call, retries included"
    )
    llm_reasks: int = Field(default=2, ge=0, description="Re-asks after an invalid answer")
    llm_temperature: float = 0.0
    llm_max_tokens: int = Field(default=2048, ge=64)
    llm_overview_max_tokens: int = Field(default=512, ge=64)
    # A provider profile by name (service.llm.providers) for endpoints its host doesn't identify.
    llm_provider: str | None = None
    llm_context_tokens: int | None = Field(
        default=None, ge=512, description="The model's context; default: the provider profile's"
    )
    # auto: strict json_schema first, stepping down the ladder when a server rejects a mode.
    llm_structured_output: StructuredMode = "auto"
    llm_pack_tokens: int = Field(
        default=4000,
        ge=0,
        description="Pack consecutive chunks into one request up to this; 0 = one chunk per request",
    )
    llm_backoff_initial: float = Field(default=0.5, ge=0)
    llm_backoff_max: float = Field(default=20.0, ge=0)
    llm_retry_budget: int = Field(
        default=50,
        ge=0,
        description="Retries shared by all calls of one backend (token bucket); 0 = no shared cap",
    )
    llm_retry_budget_refill: float = Field(
        default=0.1, ge=0, description="Retry tokens earned back per successful request"
    )
    llm_price_prompt_per_1k: float | None = None
    llm_price_completion_per_1k: float | None = None
    prompt_id: str = "extract"
    # v1 until the evals on a real model say v2 (evidence first) does better; None = the newest.
    prompt_version: str | None = "1"
    prompts_dir: Path | None = None  # overrides prompt by prompt; the packaged ones otherwise

    # --- pipeline ---
    chunk_max_tokens: int = Field(default=1500, ge=100)

    # --- what one input may cost (checked before the expensive step; see service/ingest.py) ---
    max_docx_uncompressed_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="Sum of a .docx's unpacked parts, read from its zip directory",
    )
    max_docx_ratio: float = Field(
        default=100.0, gt=0, description="Unpacked ÷ packed size of a .docx, once it unpacks to over 8 MiB"
    )
    max_pdf_pages: int = Field(default=2000, ge=1)
    max_text_chars: int = Field(default=10_000_000, ge=1, description="Characters of text after extraction")

    # --- cache and data ---
    cache_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("govbrief")))
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("govbrief")))

    # --- HTTP service ---
    api_keys: str | None = Field(default=None, description="Comma-separated bearer keys; unset = open")
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    cors_origins: str | None = None
    # Runs. Over its time a run is stopped: in the server its worker process is ended; in the CLI,
    # batch and job workers at the pipeline's next checkpoint (a stage's end, an LLM request answered).
    run_time_limit: float = Field(
        default=300.0, gt=0, description="Seconds one report's run may take before it is stopped"
    )
    max_runs: int = Field(default=4, ge=1, le=64, description="Runs at once (worker processes)")
    run_queue: int = Field(default=16, ge=0, description="Runs waiting for a worker; past it, 503")
    # Connections and shutdown (uvicorn).
    shutdown_grace: int = Field(
        default=10, ge=0, description="Seconds SIGTERM waits for requests in flight before stopping runs"
    )
    keep_alive_timeout: int = Field(default=5, ge=1, description="Seconds an idle connection is kept")
    body_timeout: float = Field(default=60.0, gt=0, description="Seconds to receive a request's whole body")
    max_connections: int = Field(
        default=256, ge=1, description="Connections and requests at once; past it, 503"
    )
    # Browser sessions and failed keys.
    session_ttl: int = Field(default=12 * 3600, ge=60, description="Seconds a browser session lasts")
    auth_failures_burst: int = Field(
        default=10, ge=1, description="Wrong keys a client may try before it is slowed down"
    )
    auth_failures_per_second: float = Field(
        default=0.2, gt=0, description="Wrong keys a client earns back per second"
    )

    # --- jobs and the shared store (issue 13) ---
    database_url: str | None = Field(
        default=None,
        description="postgresql://… : briefs, jobs and the LLM answer cache in PostgreSQL; unset = SQLite",
    )
    workers: int = Field(default=2, ge=0, le=64, description="Job workers inside `govbrief serve`")
    job_lease_seconds: float = Field(
        default=30.0, gt=0, description="A running job's lease; a dead worker's job is run again after it"
    )
    job_poll_seconds: float = Field(default=0.5, gt=0, description="How often idle workers look for jobs")
    job_max_attempts: int = Field(default=3, ge=1, description="Claims of one job before it is failed")

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @model_validator(mode="after")
    def _fallback_api_key(self) -> Settings:
        if self.llm_api_key is None and os.environ.get("OPENAI_API_KEY"):
            self.llm_api_key = SecretStr(os.environ["OPENAI_API_KEY"])
        return self

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_model and (self.llm_base_url or self.llm_api_key))

    def default_backend(self) -> str:
        if self.backend != "auto":
            return self.backend
        return "openai" if self.llm_configured else "rules"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
