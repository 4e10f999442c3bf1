"""The structured-output ladder: how the answer's shape is asked for, from strongest to weakest.

    json_schema         response_format={"type": "json_schema", "json_schema": {strict, schema}}
    json_object_schema  response_format={"type": "json_object", "schema": …}, the form llama.cpp's
                        server turns into a grammar
    json_object         response_format={"type": "json_object"}
    text                no response_format; JSON dug out of the reply

The model always gets its contract: on every rung the endpoint is not known to enforce (its
provider profile's `enforced`), a compact rendering of the JSON Schema goes into the prompt. A
provider that documents a rung as rejected never sees it. What an endpoint rejected and accepted is
learned once per base_url + model (`Ladder`): the first request in an untried mode holds the
endpoint's probe lock, so parallel chunks wait for its verdict instead of each paying the
rejection; the backend persists the verdicts in its cache dir (`--refresh` forgets them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from service.llm.cache import answer_key

LADDER: tuple[str, ...] = ("json_schema", "json_object_schema", "json_object", "text")
SCHEMA_NAME = "chunk_result"
#: Modes in which some providers (OpenAI, DeepSeek, DashScope) reject a prompt without this word.
JSON_WORD = "json"
_JSON_WORD_LINE = "（以 json 格式输出）"


def rungs(setting: str, accepted: tuple[str, ...] = LADDER) -> tuple[str, ...]:
    """The modes a setting may use, in the order to try them (`accepted`: the provider's modes)."""
    if setting == "auto":
        return tuple(m for m in LADDER if m in accepted) or LADDER
    if setting not in LADDER:
        raise ValueError(f"unknown structured-output mode {setting!r}")
    return (setting,)


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


def with_json_word(messages: list[dict[str, str]], mode: str) -> list[dict[str, str]]:
    """`messages` with the word "json" in the system message when a JSON mode is asked for and the
    prompt lacks it: a prompt requirement to satisfy, never a reason to step down the ladder."""
    if mode == "text" or any(JSON_WORD in m.get("content", "") for m in messages):
        return messages
    first, *rest = messages
    return [{**first, "content": first["content"] + "\n" + _JSON_WORD_LINE}, *rest]


# --- a faithful, compact rendering of a JSON Schema for the prompt ------------------------------


def compact_schema(schema: dict[str, Any]) -> str:
    """The schema as a TypeScript-like type: every field, its nesting, its type and its enum values,
    in a third of the JSON Schema's tokens. `{a: string, b: ("x"|"y")[]}`."""
    return _render(schema)


def _render(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "|".join(f'"{v}"' if isinstance(v, str) else str(v) for v in node["enum"])
    if "anyOf" in node:
        return "|".join(_render(sub) for sub in node["anyOf"])
    kind = node.get("type")
    if isinstance(kind, list):
        return "|".join(_render({**node, "type": k}) for k in kind)
    if kind == "object":
        props = node.get("properties", {})
        return "{" + ",".join(f"{name}:{_render(sub)}" for name, sub in props.items()) + "}"
    if kind == "array":
        inner = _render(node.get("items", {}))
        return f"({inner})[]" if "|" in inner and not inner.startswith("{") else f"{inner}[]"
    return {"integer": "int", "number": "number", "boolean": "bool", "null": "null"}.get(str(kind), "string")


# --- what an endpoint accepts, learned once ----------------------------------------------------


@dataclass
class Verdicts:
    """What one endpoint + model did with each mode: accepted (answered) or rejected."""

    accepted: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    probe: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_note(self) -> dict[str, list[str]]:
        return {"accepted": sorted(self.accepted), "rejected": sorted(self.rejected)}


_book: dict[tuple[str, str], Verdicts] = {}
_book_lock = threading.Lock()


def verdicts(base_url: str, model: str) -> Verdicts:
    """The process-wide verdicts for an endpoint + model (shared by every backend and chunk)."""
    with _book_lock:
        return _book.setdefault((base_url, model), Verdicts())


def forget(base_url: str, model: str) -> None:
    with _book_lock:
        _book.pop((base_url, model), None)


def forget_all() -> None:
    """For tests: start the process's memory afresh."""
    with _book_lock:
        _book.clear()


def note_key(base_url: str, model: str) -> str:
    """Where an endpoint's verdicts are kept in the answer cache (read by the backend, written by
    the backend and by `govbrief doctor`)."""
    return answer_key(kind="structured-modes", base_url=base_url, model=model)


def remembered(base_url: str, model: str) -> str | None:
    """The strongest mode the endpoint is known to accept (None when none is known yet)."""
    known = verdicts(base_url, model).accepted
    return next((m for m in LADDER if m in known), None)


class Ladder:
    """The modes one backend may use against one endpoint + model, and what it has learned."""

    def __init__(self, setting: str, base_url: str, model: str, accepted: tuple[str, ...] = LADDER) -> None:
        self.setting = setting
        self.options = rungs(setting, accepted)
        self.verdicts = verdicts(base_url, model)

    def learn(self, note: Any) -> None:
        """Fold in verdicts persisted by an earlier run (a cache note)."""
        if isinstance(note, dict):
            self.verdicts.accepted |= {m for m in note.get("accepted", []) if m in LADDER}
            self.verdicts.rejected |= {m for m in note.get("rejected", []) if m in LADDER}
        elif isinstance(note, str) and note in LADDER:  # the older note: the one mode that worked
            self.verdicts.accepted.add(note)

    def current(self) -> str:
        """The strongest rung not known to be rejected (the last rung when all are)."""
        for mode in self.options:
            if mode not in self.verdicts.rejected:
                return mode
        return self.options[-1]

    def lower(self, mode: str) -> str | None:
        i = self.options.index(mode) if mode in self.options else len(self.options)
        below = [m for m in self.options[i + 1 :] if m not in self.verdicts.rejected]
        return below[0] if below else None

    def is_rejected(self, mode: str) -> bool:
        return mode in self.verdicts.rejected

    @contextmanager
    def probing(self, mode: str) -> Iterator[bool]:
        """Hold the endpoint's probe lock while `mode` is untried; yields whether it was untried.
        A chunk that waited finds the verdict made and goes on without the lock."""
        v = self.verdicts
        if mode in v.accepted or mode in v.rejected:
            yield False
            return
        with v.probe:
            yield not (mode in v.accepted or mode in v.rejected)

    def accept(self, mode: str) -> bool:
        """Record an answer in `mode`; True when that is news (worth persisting)."""
        new = mode not in self.verdicts.accepted
        self.verdicts.accepted.add(mode)
        return new

    def reject(self, mode: str) -> None:
        self.verdicts.rejected.add(mode)
        self.verdicts.accepted.discard(mode)
