"""The structured-output ladder: how the answer's shape is asked for, from strongest to weakest.

    json_schema         response_format={"type": "json_schema", "json_schema": {strict, schema}}
                        (OpenAI, DeepSeek, Qwen/DashScope, vLLM, recent llama.cpp and Ollama)
    json_object_schema  response_format={"type": "json_object", "schema": …}, the form llama.cpp's
                        server turns into a grammar
    json_object         response_format={"type": "json_object"}; the schema goes into the prompt
    text                no response_format; schema in the prompt, JSON dug out of the reply

A pinned setting uses its rung only. `auto` starts at the top (or where this process last
succeeded against the same base_url + model) and steps down when a server rejects a rung; the rung
that worked is remembered for the rest of the process, and by the backend in its cache, so a later
run doesn't pay for the rejections again.
"""

from __future__ import annotations

import threading
from typing import Any

LADDER: tuple[str, ...] = ("json_schema", "json_object_schema", "json_object", "text")
SCHEMA_NAME = "chunk_result"

_memory: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def rungs(setting: str) -> tuple[str, ...]:
    """The modes a setting may use, in the order to try them."""
    if setting == "auto":
        return LADDER
    if setting not in LADDER:
        raise ValueError(f"unknown structured-output mode {setting!r}")
    return (setting,)


def next_mode(setting: str, mode: str) -> str | None:
    options = rungs(setting)
    i = options.index(mode)
    return options[i + 1] if i + 1 < len(options) else None


def schema_in_prompt(mode: str) -> bool:
    """Whether the prompt must carry the schema because the request can't."""
    return mode in ("json_object", "text")


def request_shape(mode: str, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(`response_format`, `extra_body`) for a mode.

    The llama.cpp form goes in `extra_body` so the SDK sends the non-standard `schema` key verbatim
    instead of validating it against OpenAI's types.
    """
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
        }, None
    if mode == "json_object_schema":
        return None, {"response_format": {"type": "json_object", "schema": schema}}
    if mode == "json_object":
        return {"type": "json_object"}, None
    if mode == "text":
        return None, None
    raise ValueError(f"unknown structured-output mode {mode!r}")


def remembered(base_url: str, model: str) -> str | None:
    with _lock:
        return _memory.get((base_url, model))


def remember(base_url: str, model: str, mode: str) -> None:
    with _lock:
        _memory[(base_url, model)] = mode


def forget_all() -> None:
    """For tests: start the process's memory afresh."""
    with _lock:
        _memory.clear()


def start_mode(setting: str, base_url: str, model: str, persisted: str | None = None) -> str:
    """Where a chunk starts: the pinned mode, or for `auto` the last rung known to work."""
    if setting != "auto":
        return setting
    known = remembered(base_url, model) or persisted
    return known if known in LADDER else LADDER[0]
