"""How far a pipeline run has got: chunks answered of the total, LLM calls and tokens so far.

`pipeline.run(..., on_progress=cb)` installs `cb` for the duration of the run and every stage that
has something to say calls `report()`. A context variable rather than a parameter on
`Backend.extract`: the Protocol stays one method, and a backend with nothing to report (rules) or
one written before progress existed needs no change. The openai backend reports from its chunk loop,
which runs in the caller's thread, so the variable is visible there.

A callback may raise (a cancelled job does): the exception ends the run where it was reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    chunks_done: int = 0
    chunks_total: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[Progress], None]

_callback: ContextVar[ProgressCallback | None] = ContextVar("govbrief_progress", default=None)


@contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    token = _callback.set(callback)
    try:
        yield
    finally:
        _callback.reset(token)


def report(progress: Progress) -> None:
    callback = _callback.get()
    if callback is not None:
        callback(progress)


def active() -> bool:
    """Whether anyone listens (saves building a Progress nobody reads)."""
    return _callback.get() is not None
