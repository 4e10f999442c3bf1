"""The only module that imports `openai`.

It sends one chat completion and translates the SDK's exceptions into the LLM layer's own
(`TransientError`, `ModeRejected`, `RequestRejected`, `AuthFailed`), with the API key scrubbed from every message.
The SDK's retries are off (`max_retries=0`): `transport.py` is the one retry layer, so `llm_calls`
counts every HTTP request and a retry budget is never multiplied by a hidden second loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from service.errors import ConfigError
from service.llm.errors import (
    AuthFailed,
    JsonWordRequired,
    ModeRejected,
    RequestRejected,
    TransientError,
    redact,
)
from service.llm.transport import parse_retry_after

#: Local servers (llama.cpp, vLLM, Ollama) accept any key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"

_TRANSIENT_STATUS = {408, 409, 425, 429}
# A 400/422/500 is the server rejecting the structured-output request only when its text says so
# (OpenAI: "Invalid schema for response_format…"; llama-cpp-python's server answers HTTP 500
# "validation error … response_format.type: Input should be 'text' or 'json_object'"; vLLM: guided
# decoding). Then the ladder steps down a mode; any other 400 ("invalid model", a bad parameter)
# would fail the same in every mode, and a 500 without these words is an outage, retried.
_MODE_WORDS = re.compile(
    r"response_format|json_schema|json_object|schema|grammar|structured|guided_", re.IGNORECASE
)
# "'messages' must contain the word 'json' in some form, to use 'response_format' of type
# 'json_object'" (OpenAI, DeepSeek, DashScope): a prompt requirement, not a rejected mode.
_JSON_WORD = re.compile(r"must contain the word .?json", re.IGNORECASE)
_SDK_ARGS = frozenset(
    {"model", "messages", "temperature", "max_tokens", "max_completion_tokens", "response_format"}
)
# A 400 that means the model is not there: nothing will work until the settings change.
_NO_MODEL = re.compile(
    r"model\b.{0,80}\b(?:not found|not exist|does not exist|unknown|invalid|not available|no such)"
    r"|\b(?:unknown|invalid|no such|nonexistent)\b.{0,20}\bmodel\b|model_not_found",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    temperature: float | None = 0.0  # None: not sent (endpoints that take their default only)
    max_tokens: int = 2048
    response_format: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    #: What the endpoint calls the answer's token limit (OpenAI's o-series: max_completion_tokens).
    max_tokens_param: str = "max_tokens"

    def body(self) -> dict[str, Any]:
        """The JSON body of the chat completion as sent over the wire: what `complete()` makes the
        SDK send (it merges `extra_body` into the body), and what a Batch API request line carries."""
        body: dict[str, Any] = {"model": self.model, "messages": self.messages}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body[self.max_tokens_param] = self.max_tokens
        if self.response_format is not None:
            body["response_format"] = self.response_format
        if self.extra_body:
            body.update(self.extra_body)
        return body


@dataclass(frozen=True)
class ChatResponse:
    content: str
    finish_reason: str | None
    prompt_tokens: int | None = None  # None when the server sent no usage
    completion_tokens: int | None = None
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ChatClient(Protocol):
    """What the backend needs from a client; tests and the batch path may bring their own."""

    base_url: str

    def complete(self, request: ChatRequest, *, timeout: float) -> ChatResponse: ...

    def redact(self, text: str) -> str: ...


class OpenAIChatClient:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 60.0,
        http_client: Any = None,
    ) -> None:
        if not base_url and not api_key:
            raise ConfigError("the openai backend needs GOVBRIEF_LLM_BASE_URL or an API key")
        self._key = api_key or None
        self._sdk = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=base_url or None,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )
        self.base_url = str(self._sdk.base_url).rstrip("/")

    @classmethod
    def from_settings(cls, settings: Any) -> OpenAIChatClient:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None
        return cls(base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout)

    def redact(self, text: str) -> str:
        return redact(text, self._key)

    def __repr__(self) -> str:  # never the key
        return f"OpenAIChatClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._sdk.close()

    def complete(self, request: ChatRequest, *, timeout: float) -> ChatResponse:
        body = request.body()
        # The SDK's typed arguments for what it knows; the rest (llama.cpp's schema key, provider
        # options) rides in extra_body, which it merges into the JSON as is.
        kwargs: dict[str, Any] = {"timeout": timeout}
        extra: dict[str, Any] = {}
        for name, value in body.items():
            if name in _SDK_ARGS:
                kwargs[name] = value
            else:
                extra[name] = value
        if extra:
            kwargs["extra_body"] = extra
        try:
            completion = self._sdk.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise TransientError(f"timed out after {timeout:.1f}s") from None
        except openai.APIConnectionError as exc:
            raise TransientError(self.redact(f"connection error: {exc}")) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.APIResponseValidationError as exc:
            raise TransientError(self.redact(f"unreadable response: {exc}")) from None
        return self._response(completion)

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        text = _error_text(exc)
        message = self.redact(f"HTTP {status}: {text}")
        if status in (400, 422) and _JSON_WORD.search(text):
            return JsonWordRequired(message, status=status)
        names_mode = bool(_MODE_WORDS.search(text))
        if status == 501 or (names_mode and (status in (400, 422) or status >= 500)):
            return ModeRejected(message, status=status)
        if status in _TRANSIENT_STATUS or status >= 500:
            return TransientError(
                message, status=status, retry_after=parse_retry_after(dict(exc.response.headers))
            )
        if status in (401, 403):
            return AuthFailed(message + " (check GOVBRIEF_LLM_API_KEY)", status=status)
        if status == 404 or (status in (400, 422) and _NO_MODEL.search(text)):
            return AuthFailed(
                message + " (check GOVBRIEF_LLM_BASE_URL and GOVBRIEF_LLM_MODEL)", status=status
            )
        return RequestRejected(message, status=status)

    def _response(self, completion: Any) -> ChatResponse:
        if isinstance(completion, str):  # a 200 whose body wasn't JSON
            raise TransientError("unreadable response: body is not JSON")
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise TransientError("response has no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        usage = getattr(completion, "usage", None)
        raw = completion.model_dump() if hasattr(completion, "model_dump") else {}
        return ChatResponse(
            content=(getattr(message, "content", None) or ""),
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None) if usage is not None else None,
            completion_tokens=getattr(usage, "completion_tokens", None) if usage is not None else None,
            model=getattr(completion, "model", None),
            raw=raw,
        )


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return str(exc.message)[:300]
