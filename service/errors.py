"""One error tree for the whole service.

Edges (CLI, HTTP, batch) catch `GovbriefError` and turn it into an exit code, a 4xx or a manifest
entry; anything else is a bug and is allowed to surface as one.
"""

from __future__ import annotations


class GovbriefError(Exception):
    """Base of every error govbrief raises on purpose."""


class InputError(GovbriefError):
    """A report that cannot be read. The message always names the file and the problem."""

    #: HTTP status an API edge should answer with.
    status_code = 422

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class FileMissingError(InputError):
    status_code = 404


class UnsupportedFormatError(InputError):
    status_code = 415


class EmptyReportError(InputError):
    pass


class BinaryDataError(InputError):
    """Binary bytes where text was promised (a .txt that is not text): undecodable, so 422 like
    any other unreadable report; 415 is kept for types we do not read at all."""


class DecodeError(InputError):
    pass


class NotAReportError(InputError):
    """Readable text, but nothing that looks like report prose (e.g. only a navigation bar)."""


class ConfigError(GovbriefError):
    """Settings that cannot work (e.g. the openai backend with no model configured)."""


class BackendError(GovbriefError):
    """A backend failed for the whole report (not one chunk: those become warnings)."""


class LLMError(BackendError):
    """The LLM endpoint could not give a usable answer."""


class LLMTransportError(LLMError):
    """Connection errors, timeouts, 429/5xx that outlived the retries."""


class LLMResponseError(LLMError):
    """The endpoint answered, but not with something we can use (after the re-asks)."""


class EmptyBriefError(LLMResponseError):
    """The LLM proposed items and every one was dropped (cited ids it was not shown, or evidence
    that could not be grounded): an empty brief would look like a report with nothing in it."""


class PromptError(GovbriefError):
    """A prompt file that is missing, malformed, or rendered without a variable it needs."""
