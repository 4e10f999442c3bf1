"""govbrief: grounded, structured briefs of Chinese local-government annual reports.

The library face (the CLI and the HTTP app are built on the same calls):

    import service as govbrief

    brief = govbrief.brief_file("report.pdf")                 # the rules backend, offline
    brief = govbrief.brief_text(text, backend=govbrief.get_backend("openai"))
    brief.problems[0].evidence[0].quote                       # the exact sentence
    govbrief.Brief.model_json_schema()                        # the output contract
    govbrief.__version__

Names are imported on first use, so `import service` stays cheap for the pipeline's own modules.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.backends.base import Backend
    from service.models import Brief

__all__ = ["Brief", "__version__", "brief_file", "brief_text", "get_backend"]


def get_backend(name: str | None = None, **settings: Any) -> Backend:
    """A backend by name ("rules" or "openai"; default: the LLM when GOVBRIEF_LLM_* configure one).
    Keyword arguments override settings, e.g. `get_backend("openai", llm_model="deepseek-chat")`."""
    from service.backends.registry import build_backend
    from service.settings import Settings, get_settings

    resolved = get_settings() if not settings else Settings(**settings)
    return build_backend(name, resolved)


def brief_file(path: str | Path, *, backend: Backend | None = None, with_text: bool = False) -> Brief:
    """The Brief of one report file (.txt .md .html .pdf .docx)."""
    from service.pipeline import summarize_path

    return summarize_path(path, backend or get_backend(), with_text=with_text)


def brief_text(
    text: str, *, filename: str = "report.txt", backend: Backend | None = None, with_text: bool = False
) -> Brief:
    """The Brief of a report given as text (`filename` names it in errors and in `source.path`)."""
    from service.pipeline import summarize_bytes

    return summarize_bytes(text.encode("utf-8"), filename, backend or get_backend(), with_text=with_text)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read from the installed metadata only when asked (it costs a scan)
        try:
            return metadata.version("govbrief")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    if name == "Brief":
        from service.models import Brief

        return Brief
    raise AttributeError(f"module 'service' has no attribute {name!r}")
