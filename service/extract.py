"""The LLM extraction stage's pure half: what the model must return, how a chunk is shown to it, and how
its answer becomes `DraftItem`s.

No network and no LLM client here (an import-linter contract forbids `openai` in this module), so
everything below is cheap to test and is shared by every LLM backend (chat, batch, hybrid).

The model never copies quotes: it cites the sentence ids it was shown, and `ground` turns those ids
into exact spans. Ids that were not in the chunk are rejected here, item by item.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from service.document import Chunk, DraftItem, DraftMetric, SectionKind, Sentence
from service.models import CATEGORY_LABELS_ZH, Category, Section

# Models (small local ones especially) answer with the Chinese names they were shown in the prompt.
_SECTION_ALIASES: dict[str, str] = {
    **{section.short_zh: section.value for section in Section},
    **{section.label_zh: section.value for section in Section},
    **{section.value.removesuffix("s"): section.value for section in Section},
    "成绩": Section.achievements.value,
    "工作成效": Section.achievements.value,
    "不足": Section.problems.value,
    "打算": Section.plans.value,
    "责任人": Section.leadership.value,
}
_CATEGORY_BY_LABEL: dict[str, Category] = {label: code for code, label in CATEGORY_LABELS_ZH.items()}
_ID_RE = re.compile(r"^\[?\s*([sS]?)(\d+)\s*\]?$")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")


def normalize_sentence_id(raw: object) -> str:
    """`s12`, `[s12]`, `12` and 12 all mean sentence s12; anything else is kept verbatim to be rejected."""
    text = str(raw).strip()
    m = _ID_RE.match(text)
    return f"s{m.group(2)}" if m else text


class ChunkMetric(BaseModel):
    model_config = ConfigDict(extra="ignore")

    label: str
    value: float
    unit: str
    sentence_id: str
    quote: str

    @field_validator("sentence_id", mode="before")
    @classmethod
    def _id(cls, v: object) -> str:
        return normalize_sentence_id(v)

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: object) -> object:
        # "1,361" or "28件" from a model that ignored the number type: take the number it clearly meant.
        if isinstance(v, str):
            m = _NUMBER_RE.search(v.replace(",", "").replace("，", ""))
            if m:
                return float(m.group())
        return v

    @field_validator("unit", "quote", "label", mode="before")
    @classmethod
    def _none_is_empty(cls, v: object) -> object:
        return "" if v is None else v


class ChunkItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    section: Section
    title: str = Field(min_length=1)
    summary: str
    category: Category
    sentence_ids: list[str] = Field(min_length=1)
    metrics: list[ChunkMetric]

    @field_validator("section", mode="before")
    @classmethod
    def _section(cls, v: object) -> object:
        if isinstance(v, str):
            key = v.strip()
            return _SECTION_ALIASES.get(key, _SECTION_ALIASES.get(key.lower(), key.lower()))
        return v

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, v: object) -> object:
        # A wrong category is not worth a re-ask: it is a label, not evidence.
        if isinstance(v, str):
            key = v.strip()
            if key in Category.__members__:
                return key
            return _CATEGORY_BY_LABEL.get(key, Category.other)
        return Category.other if v is None else v

    @field_validator("sentence_ids", mode="before")
    @classmethod
    def _ids(cls, v: object) -> object:
        if isinstance(v, str | int):
            v = [v]
        if isinstance(v, list):
            return [normalize_sentence_id(x) for x in v]
        return v

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, v: object) -> object:
        return [] if v is None else v

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, v: object) -> object:
        return "" if v is None else v


class ChunkResult(BaseModel):
    """What the model returns for one chunk."""

    model_config = ConfigDict(extra="ignore")

    items: list[ChunkItem]


def _strict(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strict(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _strict(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]), defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        # Titles, defaults and length bounds cost prompt tokens and several servers' strict modes
        # reject them; pydantic enforces the bounds on the answer anyway.
        if key in (
            "title",
            "default",
            "minItems",
            "maxItems",
            "minLength",
            "maxLength",
            "$defs",
            "description",
        ):
            continue
        if key == "properties":
            out[key] = {name: _strict(sub, defs) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _strict(value, defs)
        else:
            out[key] = value
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    return out


def chunk_result_schema(field_order: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The chunk-result JSON Schema in the form OpenAI's strict mode and llama.cpp's grammar accept:
    no $refs, every property required, no additional properties. `field_order` reorders an item's
    fields (strict decoders write them in schema order: evidence first makes the model pick the
    sentences before it words the title)."""
    raw = ChunkResult.model_json_schema()
    schema: dict[str, Any] = _strict(raw, raw.get("$defs", {}))
    if field_order:
        item = schema["properties"]["items"]["items"]
        props = item["properties"]
        unknown = [f for f in field_order if f not in props]
        if unknown:
            raise ValueError(f"field_order names unknown fields: {', '.join(unknown)}")
        ordered = [*field_order, *(f for f in props if f not in field_order)]
        item["properties"] = {f: props[f] for f in ordered}
        item["required"] = ordered
    return schema


def chunk_result_schema_json() -> str:
    """Compact, stable text of the schema: what is hashed and what is pasted into prompts."""
    # Field order is kept (not sorted): strict decoders generate properties in schema order.
    return json.dumps(chunk_result_schema(), ensure_ascii=False, separators=(",", ":"))


# --- showing chunks to the model --------------------------------------------------------------

REPORT_OPEN = "<report>"
REPORT_CLOSE = "</report>"
_DELIM_RE = re.compile(r"<\s*/?\s*report\s*>", re.IGNORECASE)

#: How the pipeline's guess at a chunk's section is shown to the model (a hint, not a rule).
SECTION_HINTS: dict[SectionKind, str] = {
    SectionKind.achievements: "工作开展情况与成效",
    SectionKind.leadership: "第一责任人职责履行情况",
    SectionKind.problems: "存在的问题与不足",
    SectionKind.plans: "下一步工作计划",
    SectionKind.preamble: "报告开头",
    SectionKind.closing: "报告结尾",
    SectionKind.other: "未识别",
}


@dataclass
class Pack:
    """What one request shows the model: one or more consecutive chunks.

    The pipeline's chunks never cross a top-level section, so a report's short problems and plans
    chapters are chunks of a couple of hundred tokens; sending each alone would pay the system
    prompt and schema once per paragraph. Consecutive chunks are packed up to a token budget and
    each keeps its own heading line and section hint inside the request.
    """

    id: str
    parts: list[Chunk]

    @property
    def sentences(self) -> list[Sentence]:
        return [s for part in self.parts for s in part.sentences]

    @property
    def tokens(self) -> int:
        return sum(part.tokens for part in self.parts)

    def sentence_ids(self) -> set[str]:
        return {s.id for s in self.sentences}

    def chunk_of(self, sentence_ids: list[str]) -> str | None:
        """The pipeline chunk holding all these sentences; None when they span two chunks of the
        pack (ground then checks them against the document, and `to_drafts` already checked them
        against what the request showed)."""
        wanted = set(sentence_ids)
        for part in self.parts:
            if wanted <= {s.id for s in part.sentences}:
                return part.id
        return None


def pack_chunks(chunks: list[Chunk], max_tokens: int) -> list[Pack]:
    """Consecutive chunks in packs of at most `max_tokens` (a chunk over budget is a pack alone).
    `max_tokens <= 0` sends every chunk on its own."""
    packs: list[list[Chunk]] = []
    size = 0
    for chunk in chunks:
        if packs and max_tokens > 0 and size + chunk.tokens <= max_tokens:
            packs[-1].append(chunk)
            size += chunk.tokens
        else:
            packs.append([chunk])
            size = chunk.tokens
    return [Pack("+".join(c.id for c in group), group) for group in packs]


def _display(text: str) -> str:
    # A report that contains our own delimiter could close the data block early and speak as the
    # user; full-width brackets keep the words visible but harmless.
    text = _DELIM_RE.sub(lambda m: m.group().replace("<", "＜").replace(">", "＞"), text)
    return " ".join(text.split())


def render_chunk(chunk: Chunk) -> str:
    """The chunk as numbered sentences, one a line: `[s12] 句子`. Ids are the document's own."""
    return "\n".join(f"[{s.id}] {_display(s.text)}" for s in chunk.sentences if s.text.strip())


def heading_path_text(chunk: Chunk) -> str:
    return " > ".join(_display(h) for h in chunk.heading_path if h.strip())


def render_parts(pack: Pack) -> list[dict[str, str]]:
    """Template variables for each chunk of a pack: its section hint, heading path and sentences."""
    return [
        {
            "hint": SECTION_HINTS.get(part.kind, SECTION_HINTS[SectionKind.other]),
            "heading_path": heading_path_text(part),
            "sentences": render_chunk(part),
        }
        for part in pack.parts
        if part.sentences
    ]


def split_pack(pack: Pack) -> tuple[Pack, Pack] | None:
    """Two halves by sentences, for an answer cut off by `finish_reason == "length"`; None if it can't.

    Each half keeps the chunk structure (heading lines, hints) of the sentences it holds.
    """
    flat = [(part, s) for part in pack.parts for s in part.sentences]
    if len(flat) < 2:
        return None
    mid = len(flat) // 2

    def rebuild(pairs: list[tuple[Chunk, Sentence]], suffix: str) -> Pack:
        parts: list[Chunk] = []
        for part, sentence in pairs:
            if not parts or parts[-1].id != part.id:
                parts.append(Chunk(part.id, list(part.heading_path), part.kind, [], 0))
            parts[-1].sentences.append(sentence)
        for new in parts:
            original = next(p for p in pack.parts if p.id == new.id)
            new.tokens = round(original.tokens * len(new.sentences) / max(len(original.sentences), 1))
        return Pack(pack.id + suffix, parts)

    return rebuild(flat[:mid], "/1"), rebuild(flat[mid:], "/2")


# --- reading the model's answer ---------------------------------------------------------------

_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE_RE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)


class AnswerFormatError(ValueError):
    """An answer that is not the JSON we asked for; the message is meant to be shown to the model."""


def strip_reasoning(text: str) -> str:
    """`text` without `<think>…</think>` blocks (and without a reasoning preamble whose opening tag
    the server already stripped)."""
    body = _THINK_RE.sub("", text or "")
    lower = body.lower()
    if "</think>" in lower:
        body = body[lower.rindex("</think>") + len("</think>") :]
    elif "<think>" in lower:  # cut off mid-thought: nothing after it is an answer
        body = body[: lower.index("<think>")]
    return body.strip()


def extract_json(text: str) -> Any:
    """The first JSON value in a model's free-text answer.

    Reasoning models wrap answers in `<think>…</think>` and chat models in ```json fences; both are
    stripped, then the first `{` or `[` that starts a complete JSON value wins.
    """
    if not text or not text.strip():
        raise AnswerFormatError("回答为空")
    body = strip_reasoning(text)
    candidates = [m.group(1) for m in _FENCE_RE.finditer(body)] + [body]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for i, ch in enumerate(candidate):
            if ch not in "{[":
                continue
            try:
                value, _ = decoder.raw_decode(candidate, i)
            except json.JSONDecodeError:
                continue
            return value
    snippet = " ".join(body.split())[:80]
    raise AnswerFormatError(f"回答中没有可解析的 JSON（开头为：{snippet!r}）")


def parse_chunk_result(text: str) -> ChunkResult:
    """Parse and validate an answer; raise `AnswerFormatError` with a message fit for a re-ask."""
    value = extract_json(text)
    if isinstance(value, list):  # a bare list of items is an answer that forgot its wrapper
        value = {"items": value}
    try:
        return ChunkResult.model_validate(value)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "(根)"
            problems.append(f"{where}: {err['msg']}")
        more = f"（另有 {exc.error_count() - 5} 处）" if exc.error_count() > 5 else ""
        raise AnswerFormatError("JSON 不符合要求的结构：" + "；".join(problems) + more) from None


def to_drafts(result: ChunkResult, shown_to_model: Pack | Chunk) -> tuple[list[DraftItem], list[str]]:
    """DraftItems for a validated answer, keeping only evidence that the request actually showed."""
    pack = shown_to_model if isinstance(shown_to_model, Pack) else Pack(shown_to_model.id, [shown_to_model])
    shown = pack.sentence_ids()
    drafts: list[DraftItem] = []
    warnings: list[str] = []
    for item in result.items:
        outside = [i for i in item.sentence_ids if i not in shown]
        if outside:
            warnings.append(
                f"chunk {pack.id}: item {item.title!r} dropped: it cites sentence ids not in the chunk "
                f"({', '.join(outside[:5])})"
            )
            continue
        metrics = []
        for m in item.metrics:
            if m.sentence_id not in shown:
                warnings.append(
                    f"chunk {pack.id}: metric {m.label!r} of item {item.title!r} dropped: "
                    f"sentence id {m.sentence_id} is not in the chunk"
                )
                continue
            metrics.append(
                DraftMetric(
                    label=m.label.strip(),
                    value=m.value,
                    unit=m.unit.strip(),
                    sentence_id=m.sentence_id,
                    quote=m.quote.strip() or None,
                )
            )
        drafts.append(
            DraftItem(
                section=item.section,
                title=item.title.strip(),
                summary=item.summary.strip(),
                category=item.category,
                sentence_ids=list(dict.fromkeys(item.sentence_ids)),
                metrics=metrics,
                chunk_id=pack.chunk_of(item.sentence_ids),
            )
        )
    return drafts, warnings
