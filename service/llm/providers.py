"""Provider profiles: what each OpenAI-compatible endpoint govbrief's users run is known to do.

One table, keyed by the base URL's host, or named with `GOVBRIEF_LLM_PROVIDER` for self-hosted and
proxied endpoints (a vLLM behind nginx, DashScope through a company gateway). A profile says:

- `modes`: the structured-output modes the endpoint accepts, strongest first (the ladder never
  asks in a mode the provider documents as rejected, so a known endpoint costs no rejected calls);
- `enforced`: the modes whose answers the server constrains to the schema (a grammar or guided
  decoding). In every other mode the prompt carries the schema, because the model is otherwise
  never shown the nesting and types;
- request quirks: the name of the token limit, parameters to omit, a fixed temperature, and
  `extra_body` merged into every request (Ollama's `num_ctx`, DashScope's `enable_thinking`);
- `context_tokens`: the model's context, which bounds how chunks are packed.

`model_rules` refine a profile by model name (OpenAI's o-series and gpt-5, Kimi K2). An unknown
host gets `generic`: every rung may be tried, none is assumed enforced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from service.errors import ConfigError

ALL_MODES: tuple[str, ...] = ("json_schema", "json_object_schema", "json_object", "text")


@dataclass(frozen=True)
class ModelRule:
    """Overrides for the models whose name matches `pattern` (a regex, searched case-insensitively)."""

    pattern: str
    max_tokens_param: str | None = None
    omit: frozenset[str] = frozenset()
    temperature: float | None = None
    modes: tuple[str, ...] | None = None
    enforced: frozenset[str] | None = None
    context_tokens: int | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    hosts: tuple[str, ...] = ()
    modes: tuple[str, ...] = ALL_MODES
    enforced: frozenset[str] = frozenset()
    max_tokens_param: str = "max_tokens"
    omit: frozenset[str] = frozenset()
    temperature: float | None = None  # a fixed temperature the endpoint insists on
    extra_body: dict[str, Any] = field(default_factory=dict)
    context_tokens: int | None = None
    model_rules: tuple[ModelRule, ...] = ()
    notes: str = ""

    def with_context(self, tokens: int | None) -> Profile:
        """This profile for a model whose context is `tokens` (a setting or a probe): a server told
        its context in the request (Ollama's `num_ctx`) is told this one."""
        if not tokens:
            return self
        extra = dict(self.extra_body)
        options = extra.get("options")
        if isinstance(options, dict) and "num_ctx" in options:
            extra["options"] = {**options, "num_ctx": tokens}
        return replace(self, context_tokens=tokens, extra_body=extra)

    def for_model(self, model: str) -> Profile:
        """This profile with the rules for `model` applied."""
        out = self
        for rule in self.model_rules:
            if not re.search(rule.pattern, model, re.IGNORECASE):
                continue
            out = replace(
                out,
                max_tokens_param=rule.max_tokens_param or out.max_tokens_param,
                omit=out.omit | rule.omit,
                temperature=rule.temperature if rule.temperature is not None else out.temperature,
                modes=rule.modes or out.modes,
                enforced=rule.enforced if rule.enforced is not None else out.enforced,
                context_tokens=rule.context_tokens or out.context_tokens,
            )
        return out


_OPENAI_REASONING = ModelRule(
    r"^(o\d|gpt-5)", max_tokens_param="max_completion_tokens", omit=frozenset({"temperature"})
)

#: The one table. Sources: each provider's OpenAI-compatibility and structured-output docs.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("generic", notes="unknown endpoint: every rung may be tried, none assumed enforced"),
        Profile(
            "openai",
            hosts=("api.openai.com",),
            enforced=frozenset({"json_schema"}),
            context_tokens=128_000,
            model_rules=(_OPENAI_REASONING,),
            notes="o-series and gpt-5: max_completion_tokens, default temperature only",
        ),
        Profile(
            "deepseek",
            hosts=("api.deepseek.com",),
            modes=("json_object", "text"),
            context_tokens=64_000,
            notes='json_schema: 400 "This response_format type is unavailable now"',
        ),
        Profile(
            "dashscope",
            hosts=("dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com"),
            modes=("json_schema", "json_object", "text"),
            extra_body={"enable_thinking": False},
            context_tokens=32_000,
            model_rules=(
                # Older Qwen models (qwen-max/turbo, qwen2.5) take json_object only.
                ModelRule(r"^(qwen-(max|turbo)|qwen2)", modes=("json_object", "text")),
            ),
            notes="Qwen3 needs enable_thinking=false outside streaming; json_schema on qwen-plus and newer",
        ),
        Profile(
            "moonshot",
            hosts=("api.moonshot.cn", "api.moonshot.ai"),
            modes=("json_object", "text"),
            context_tokens=128_000,
            model_rules=(ModelRule(r"kimi-k2", temperature=1.0),),
            notes="Kimi K2 accepts temperature=1 only",
        ),
        Profile(
            "ark",
            hosts=("ark.cn-beijing.volces.com", "ark.ap-southeast.bytepluses.com"),
            modes=("json_object", "text"),
            context_tokens=32_000,
            notes='Doubao: "supported values are: `json_object` and `text`"',
        ),
        Profile(
            "zhipu",
            hosts=("open.bigmodel.cn", "api.z.ai"),
            modes=("json_object", "text"),
            context_tokens=128_000,
        ),
        Profile(
            "siliconflow",
            hosts=("api.siliconflow.cn", "api.siliconflow.com"),
            modes=("json_object", "text"),
            context_tokens=32_000,
        ),
        Profile(
            "vllm",
            enforced=frozenset({"json_schema", "json_object_schema"}),
            modes=("json_schema", "json_object", "text"),
            notes="guided decoding enforces json_schema; context from /v1/models max_model_len",
        ),
        Profile(
            "ollama",
            hosts=("localhost:11434", "127.0.0.1:11434"),
            modes=("json_schema", "json_object", "text"),
            enforced=frozenset({"json_schema"}),
            # Ollama's default context is 2,048-4,096 tokens and it cuts longer prompts silently.
            extra_body={"options": {"num_ctx": 16_384}},
            context_tokens=16_384,
            notes="num_ctx raised to 16384; a cut prompt shows in usage.prompt_tokens",
        ),
        Profile(
            "ollama-cloud",
            hosts=("ollama.com",),
            modes=("json_schema", "json_object", "text"),
            notes="accepts json_schema without enforcing it",
        ),
        Profile(
            "llamacpp",
            hosts=(),
            modes=("json_object_schema", "json_object", "text"),
            enforced=frozenset({"json_object_schema"}),
            notes='llama-cpp-python: json_object + "schema" becomes a grammar; json_schema is a 500',
        ),
    )
}


def _host(base_url: str) -> str:
    parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def resolve(base_url: str | None, model: str, name: str | None = None) -> Profile:
    """The profile for an endpoint: `name` when given (GOVBRIEF_LLM_PROVIDER), else by host."""
    if name:
        if name not in PROFILES:
            raise ConfigError(f"unknown GOVBRIEF_LLM_PROVIDER {name!r}; choose one of: {', '.join(PROFILES)}")
        return PROFILES[name].for_model(model)
    host = _host(base_url or "https://api.openai.com/v1")
    for profile in PROFILES.values():
        if host in profile.hosts or host.split(":")[0] in profile.hosts:
            return profile.for_model(model)
    return PROFILES["generic"].for_model(model)
