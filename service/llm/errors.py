"""The LLM layer's failure vocabulary, and the one place secrets are scrubbed from messages."""

from __future__ import annotations

from service.errors import ConfigError, LLMError, LLMResponseError, LLMTransportError

__all__ = [
    "AuthFailed",
    "ConfigError",
    "ExtractionFailed",
    "JsonWordRequired",
    "LLMError",
    "LLMResponseError",
    "LLMTransportError",
    "ModeRejected",
    "PromptTruncated",
    "RequestRejected",
    "TransientError",
    "Truncated",
    "redact",
]


class TransientError(LLMTransportError):
    """Worth another try: 408/409/429/5xx, timeouts, dropped connections."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RequestRejected(LLMError):
    """The server refused this request as sent (400, 422, 501…): another try of the same request is
    pointless. Only a `ModeRejected` is worth a different one (a lower structured-output mode)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ModeRejected(RequestRejected):
    """A rejection that names the structured-output request (response_format, json_schema, grammar…):
    the one kind the ladder answers by stepping down to a weaker mode. Any other rejection (a bad
    parameter, a prompt too long) would fail the same way in every mode, so it fails at once."""


class JsonWordRequired(RequestRejected):
    """The server wants the word "json" in the prompt of a JSON-mode request. The ladder satisfies it
    (`structured.with_json_word`); it is never read as a rejection of the mode."""


class PromptTruncated(LLMResponseError):
    """The server cut the prompt to fit its context (`usage.prompt_tokens` says so): the answer is
    missing whatever was cut, so the request fails loudly instead of returning fewer items."""


class AuthFailed(LLMError):
    """401/403, or a 404 (or a 400 saying so) for the model or endpoint: no chunk of any report can
    succeed, so stop."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Truncated(LLMResponseError):
    """The answer hit `max_tokens` (`finish_reason == "length"`)."""


class ExtractionFailed(LLMResponseError):
    """No request of a report got a usable answer. Carries the per-request reasons, and whether any
    of them gave up on transport errors (worth trying the report again later) rather than on answers."""

    def __init__(self, message: str, *, failed_chunks: dict[str, str], transient: bool) -> None:
        super().__init__(message)
        self.failed_chunks = dict(failed_chunks)
        self.transient = transient


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every secret replaced. Used on every message that leaves the LLM layer, because
    servers echo headers in error bodies and exception texts quote them."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
