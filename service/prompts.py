"""Prompts as versioned files.

Layout: `service/prompt_files/<id>/v<version>.toml` (shipped inside the package), each file a TOML
table with

    id = "extract"            # must match the folder
    version = "1"             # must match the file name (v1.toml)
    description = "…"         # for people; not hashed
    system = '''…'''          # jinja2 template of the system message
    user = '''…'''            # jinja2 template of the user message
    reask = '''…'''           # optional: follow-up after an invalid answer ({{ error }})
    field_order = [...]       # optional: the order of an item's fields in the schema the model fills
    max_metrics = 3           # optional: at most this many metrics per item (extra ones are dropped)
    max_tokens = 1536         # optional: the answer's token limit, sized to the items and metrics

TOML because it is in the standard library (tomllib) and its multi-line literal strings hold Chinese
text, quotes and braces without escaping. Templates render with `StrictUndefined`: a variable the
caller forgot is a `PromptError`, never an empty hole in the prompt. The content hash covers id,
version and both templates, so editing a prompt without bumping its version still changes every
cache key and the Brief's provenance.

A prompts folder given by `GOVBRIEF_PROMPTS_DIR` (or `--prompts-dir`) overrides prompt by prompt: a
prompt id with a folder there is read from there, every other one from the package.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import jinja2

from service.errors import PromptError

DEFAULT_REASK = "上一次回答不可用：{{ error }}\n请重新回答，只输出符合要求的 JSON，不要其他文字。"
_VERSION_RE = re.compile(r"^v(\d+(?:\.\d+)*)$")


def default_prompts_dir() -> Path:
    """The prompts shipped inside the package."""
    return Path(__file__).resolve().parent / "prompt_files"


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str


@dataclass(frozen=True)
class Prompt:
    id: str
    version: str
    system: str
    user: str
    reask: str = ""  # optional template for re-asking after an invalid answer; variable: error
    description: str = ""
    path: str = ""
    field_order: tuple[str, ...] | None = None
    max_metrics: int | None = None
    max_tokens: int | None = None
    _env: jinja2.Environment = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @property
    def hash(self) -> str:
        data = json.dumps(
            {
                "id": self.id,
                "version": self.version,
                "system": self.system,
                "user": self.user,
                "reask": self.reask,
                **({"field_order": list(self.field_order)} if self.field_order else {}),
                **({"max_metrics": self.max_metrics} if self.max_metrics else {}),
                **({"max_tokens": self.max_tokens} if self.max_tokens else {}),
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    @cached_property
    def _templates(self) -> tuple[jinja2.Template, jinja2.Template, jinja2.Template]:
        # Compiled once per prompt: rendering runs once per chunk, compiling costs more than rendering.
        env = self._env or _environment()
        return (
            env.from_string(self.system),
            env.from_string(self.user),
            env.from_string(self.reask or DEFAULT_REASK),
        )

    def render(self, **variables: Any) -> RenderedPrompt:
        try:
            system_t, user_t, _ = self._templates
            system = system_t.render(**variables)
            user = user_t.render(**variables)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt {self.id} v{self.version}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise PromptError(f"prompt {self.id} v{self.version}: {exc}") from None
        return RenderedPrompt(system=system.strip(), user=user.strip())

    def render_reask(self, **variables: Any) -> str:
        """The follow-up message after an invalid answer (a generic one if the file has none)."""
        try:
            return self._templates[2].render(**variables).strip()
        except jinja2.TemplateError as exc:
            raise PromptError(f"prompt {self.id} v{self.version} reask: {exc}") from None


def _environment() -> jinja2.Environment:
    # Not HTML: autoescape would turn the report's quotes into entities and change what the model reads.
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def available_versions(prompt_id: str, root: Path | None = None) -> list[str]:
    folder = (root or default_prompts_dir()) / prompt_id
    versions = []
    for path in folder.glob("v*.toml") if folder.is_dir() else []:
        m = _VERSION_RE.match(path.stem)
        if m:
            versions.append(m.group(1))
    return sorted(versions, key=_version_key)


def load_prompt(prompt_id: str, version: str | None = None, root: Path | None = None) -> Prompt:
    """The prompt `prompt_id` at `version` (the newest when None): from `root` when it has a folder
    for this prompt, else the packaged one."""
    if root is not None and not Path(root).is_dir():
        raise PromptError(f"prompts folder {root} does not exist")
    if root is None or not (Path(root) / prompt_id).is_dir():
        root = default_prompts_dir()
    return _load(prompt_id, version, str(root))


@lru_cache(maxsize=64)
def _load(prompt_id: str, version: str | None, root: str) -> Prompt:
    if not re.fullmatch(r"[a-z0-9_-]+", prompt_id):
        raise PromptError(f"bad prompt id {prompt_id!r}")
    versions = available_versions(prompt_id, Path(root))
    if not versions:
        raise PromptError(f"no prompt {prompt_id!r} under {root}")
    if version is None:
        version = versions[-1]
    version = version.removeprefix("v")
    if version not in versions:
        raise PromptError(f"prompt {prompt_id!r} has no version {version!r} (have: {', '.join(versions)})")
    path = Path(root) / prompt_id / f"v{version}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PromptError(f"{path}: {exc}") from None
    for key in ("id", "version", "system", "user"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise PromptError(f"{path}: missing or empty string field {key!r}")
    if data["id"] != prompt_id or data["version"] != version:
        raise PromptError(
            f"{path}: declares {data['id']} v{data['version']}, file name says {prompt_id} v{version}"
        )
    env = _environment()
    reask = data.get("reask", "")
    if not isinstance(reask, str):
        raise PromptError(f"{path}: reask must be a string")
    for key in ("system", "user", "reask"):
        try:
            env.parse(data.get(key, ""))
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{path}: {key} template: {exc}") from None
    field_order = data.get("field_order")
    if field_order is not None and (
        not isinstance(field_order, list) or not all(isinstance(f, str) for f in field_order)
    ):
        raise PromptError(f"{path}: field_order must be a list of field names")
    limits = {}
    for key in ("max_metrics", "max_tokens"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise PromptError(f"{path}: {key} must be a positive integer")
        limits[key] = value
    return Prompt(
        id=prompt_id,
        version=version,
        system=data["system"],
        user=data["user"],
        reask=reask,
        description=str(data.get("description", "")),
        path=str(path),
        field_order=tuple(field_order) if field_order else None,
        max_metrics=limits["max_metrics"],
        max_tokens=limits["max_tokens"],
        _env=env,
    )
