"""`govbrief doctor`: a few calls that tell a user what their endpoint does.

Reachable (GET /models), key accepted, model listed, a chat call's latency, each structured-output
mode accepted or rejected and, when accepted, whether the server actually enforces it, and the
model's context. Enforcement is tested by asking, in that mode, for a shape the model would break
if nothing held it: the schema wants one exact integer code and a boolean, the prompt asks for a
sentence of Chinese. Only a server that constrains decoding answers with the schema's shape.

The verdicts are saved where the openai backend looks for them, so briefs pay no rejection.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from service.llm import structured
from service.llm.cache import AnswerCache
from service.llm.client import ChatClient, ChatRequest
from service.llm.errors import AuthFailed, ModeRejected, RequestRejected, TransientError
from service.llm.providers import Profile

_PROBE_CODE = 4817
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "zq_code": {"type": "integer", "enum": [_PROBE_CODE]},
        "zq_flag": {"type": "boolean"},
    },
    "required": ["zq_code", "zq_flag"],
    "additionalProperties": False,
}
_PROBE_PROMPT = "用一句中文介绍你自己（以 json 回答）。"
_CONTEXT_FIELDS = ("context_length", "max_model_len", "context_window", "max_context_length", "n_ctx")


@dataclass
class ModeResult:
    mode: str
    accepted: bool
    enforced: bool = False
    detail: str = ""


@dataclass
class Report:
    base_url: str
    model: str
    profile: str
    reachable: bool = False
    key_ok: bool | None = None
    listed: bool | None = None
    models_ms: int | None = None
    chat_ok: bool = False
    chat_ms: int | None = None
    modes: list[ModeResult] = field(default_factory=list)
    context_tokens: int | None = None
    context_source: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def works(self) -> bool:
        return self.chat_ok and any(m.accepted for m in self.modes) and not self.problems

    def settings(self) -> dict[str, str]:
        """What to set for briefs against this endpoint."""
        out: dict[str, str] = {}
        enforced = [m.mode for m in self.modes if m.enforced]
        if enforced:
            out["GOVBRIEF_LLM_STRUCTURED_OUTPUT"] = enforced[0]
        if self.context_tokens and self.context_source != "profile":
            out["GOVBRIEF_LLM_CONTEXT_TOKENS"] = str(self.context_tokens)
        return out


def _enforced(content: str) -> bool:
    try:
        value = json.loads(content)
    except ValueError:
        return False
    return (
        isinstance(value, dict)
        and set(value) == {"zq_code", "zq_flag"}
        and value["zq_code"] == _PROBE_CODE
        and isinstance(value["zq_flag"], bool)
    )


def _models(base_url: str, api_key: str | None, timeout: float, report: Report) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        report.problems.append(f"unreachable: {type(exc).__name__}: {exc}")
        return []
    report.reachable = True
    report.models_ms = round((time.perf_counter() - started) * 1000)
    if response.status_code in (401, 403):
        report.key_ok = False
        report.problems.append(
            f"the key was refused (HTTP {response.status_code}): check GOVBRIEF_LLM_API_KEY"
        )
        return []
    if response.status_code >= 400:
        return []  # some servers list no models; the chat call decides
    report.key_ok = True
    try:
        data = response.json().get("data", [])
    except (ValueError, AttributeError):
        return []
    return [m for m in data if isinstance(m, dict)]


def diagnose(
    client: ChatClient,
    *,
    model: str,
    profile: Profile,
    api_key: str | None,
    timeout: float,
    context_setting: int | None,
    cache: AnswerCache | None = None,
) -> Report:
    report = Report(base_url=client.base_url, model=model, profile=profile.name)
    models = _models(client.base_url, api_key, timeout, report)
    if report.key_ok is False or not report.reachable:
        return report
    entry = next((m for m in models if m.get("id") == model), None)
    report.listed = entry is not None if models else None

    def chat(**kw: Any) -> Any:
        temperature = profile.temperature if profile.temperature is not None else 0.0
        extra = {**profile.extra_body, **(kw.get("extra_body") or {})}
        request = ChatRequest(
            model=model,
            messages=[{"role": "user", "content": _PROBE_PROMPT}],
            temperature=None if "temperature" in profile.omit else temperature,
            max_tokens=64,
            max_tokens_param=profile.max_tokens_param,
            response_format=kw.get("response_format"),
            extra_body=extra or None,
        )
        return client.complete(request, timeout=timeout)

    started = time.perf_counter()
    try:
        chat()
    except AuthFailed as exc:
        report.problems.append(str(exc))
        return report
    except (TransientError, RequestRejected) as exc:
        report.problems.append(f"a plain chat call failed: {exc}")
        return report
    report.chat_ok = True
    report.chat_ms = round((time.perf_counter() - started) * 1000)
    if report.key_ok is None:
        report.key_ok = True

    ladder = structured.Ladder("auto", client.base_url, model)
    for mode in structured.LADDER:
        response_format, extra_body = structured.request_shape(mode, PROBE_SCHEMA)
        try:
            response = chat(response_format=response_format, extra_body=extra_body)
        except ModeRejected as exc:
            report.modes.append(ModeResult(mode, accepted=False, detail=str(exc)))
            ladder.reject(mode)
            continue
        except (TransientError, RequestRejected, AuthFailed) as exc:
            report.modes.append(ModeResult(mode, accepted=False, detail=str(exc)))
            continue
        ladder.accept(mode)
        report.modes.append(ModeResult(mode, accepted=True, enforced=_enforced(response.content)))
    if cache is not None:
        cache.set_note(structured.note_key(client.base_url, model), ladder.verdicts.as_note())

    if context_setting:
        report.context_tokens, report.context_source = context_setting, "GOVBRIEF_LLM_CONTEXT_TOKENS"
    elif entry is not None and any(isinstance(entry.get(f), int) for f in _CONTEXT_FIELDS):
        found = next(entry[f] for f in _CONTEXT_FIELDS if isinstance(entry.get(f), int))
        report.context_tokens, report.context_source = found, "/models"
    elif profile.context_tokens:
        report.context_tokens, report.context_source = profile.context_tokens, "profile"
    return report


def render(report: Report) -> list[str]:
    yes = {True: "yes", False: "no", None: "unknown"}
    lines = [
        f"endpoint   {report.base_url}  (provider profile: {report.profile})",
        f"reachable  {yes[report.reachable]}"
        + (f", GET /models {report.models_ms} ms" if report.models_ms is not None else ""),
        f"key        {'accepted' if report.key_ok else yes[report.key_ok] if report.key_ok is None else 'refused'}",
        f"model      {report.model}: "
        + {True: "listed", False: "NOT listed by /models", None: "(no model list)"}[report.listed],
    ]
    if report.chat_ms is not None:
        lines.append(f"chat       ok, {report.chat_ms} ms")
    for i, m in enumerate(report.modes):
        label = "modes      " if i == 0 else "           "
        if not m.accepted:
            state = f"rejected ({m.detail[:100]})"
        elif m.enforced:
            state = "accepted, enforced"
        else:
            state = "accepted, NOT enforced (the schema goes in the prompt)"
        lines.append(f"{label}{m.mode}: {state}")
    if report.context_tokens:
        lines.append(f"context    {report.context_tokens} tokens (from {report.context_source})")
    else:
        lines.append("context    unknown: set GOVBRIEF_LLM_CONTEXT_TOKENS so chunks are packed to fit")
    for i, (name, value) in enumerate(report.settings().items()):
        lines.append(f"{'settings   ' if i == 0 else '           '}{name}={value}")
    for problem in report.problems:
        lines.append(f"problem    {problem}")
    lines.append("verdict    " + ("briefs will work" if report.works else "briefs will NOT work"))
    return lines
