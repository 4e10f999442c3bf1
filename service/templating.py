"""The one Jinja environment for the package's `templates/` folder: the HTTP pages, the compare
page and the eval-compare page all render through it."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

#: A quote shown in a table cell is cut here (the page links to the whole brief).
CLIP_CHARS = 160


def clip(text: str | None) -> str:
    """One line of at most CLIP_CHARS characters."""
    text = " ".join((text or "").split())
    return text if len(text) <= CLIP_CHARS else text[:CLIP_CHARS] + "…"


@lru_cache(maxsize=1)
def environment() -> Environment:
    # autoescape=True for every template, whatever its name: all report and LLM text is untrusted.
    env = Environment(
        loader=PackageLoader("service", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clip"] = clip
    return env
