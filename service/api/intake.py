"""A POSTed report, as JSON or as a multipart form, → (bytes, filename, options).

Bodies are parsed here rather than by FastAPI's parameter binding because one endpoint takes two
media types; the OpenAPI description of both lives in `request_body_openapi()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.api.examples import EXAMPLE_TEXT

BackendName = Literal["rules", "openai"]
OutputFormat = Literal["json", "md"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_surrogates(value: str | None) -> str | None:
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode (contains a lone surrogate)") from None
    return value


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: BackendName | None = Field(
        default=None,
        description="`rules` (offline) or `openai` (the configured LLM); the server's default when omitted.",
    )
    with_text: bool = Field(default=False, description="Include the normalized report text as `source.text`.")
    format: OutputFormat = Field(
        default="json", description="`json` (the Brief with its id) or `md` (a Chinese brief)."
    )


class BriefRequest(Options):
    text: str = Field(description="The report: plain text, or a saved HTML page.", examples=[EXAMPLE_TEXT])
    filename: str | None = Field(
        default=None,
        max_length=255,
        description="Names the report in errors and in `source.path`; its suffix hints at the format.",
        examples=["qinghe_2023.txt"],
    )

    _check_text = field_validator("text", "filename")(_no_surrogates)


@dataclass(frozen=True)
class Report:
    data: bytes
    filename: str
    options: Options


async def disconnected(request: Request) -> None:
    """Returns once the client has hung up (call it after the body has been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def unsupported_media_type(media: str) -> HTTPException:
    shown = media or "none"
    return HTTPException(
        415, f"unsupported media type {shown!r}: send application/json or multipart/form-data"
    )


async def read_report(request: Request, *, max_bytes: int) -> Report:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return await _from_json(request)
    if media == "multipart/form-data":
        return await _from_form(request, max_bytes)
    raise unsupported_media_type(media)


async def _from_json(request: Request) -> Report:
    # Parsing megabytes of JSON takes milliseconds: off the event loop.
    return await run_in_threadpool(_parse_json, await request.body())


def _parse_json(body: bytes) -> Report:
    try:
        req = BriefRequest.model_validate_json(body)
    except ValidationError as e:
        raise RequestValidationError(_errors(e)) from None
    options = Options(backend=req.backend, with_text=req.with_text, format=req.format)
    return Report(req.text.encode("utf-8"), _clean_filename(req.filename), options)


async def _from_form(request: Request, max_bytes: int) -> Report:
    async with request.form(max_files=1, max_fields=8, max_part_size=max_bytes) as form:
        upload, text = form.get("file"), form.get("text")
        fields = {
            k: v for k, v in form.items() if k in Options.model_fields and isinstance(v, str) and v != ""
        }
        try:
            options = Options.model_validate(fields)
        except ValidationError as e:
            raise RequestValidationError(_errors(e)) from None
        # A browser sends an empty, nameless file part when no file was chosen.
        if isinstance(upload, UploadFile) and (upload.filename or upload.size):
            return Report(await upload.read(), _clean_filename(upload.filename), options)
        if isinstance(upload, str) and upload:
            return Report(upload.encode("utf-8", "surrogatepass"), "", options)
        if isinstance(text, str) and text.strip():
            name = form.get("filename")
            return Report(
                text.encode("utf-8", "surrogatepass"),
                _clean_filename(name if isinstance(name, str) else None),
                options,
            )
    raise HTTPException(
        422, "no report in the form: send the file in the 'file' field (or the text in 'text')"
    )


def _clean_filename(name: str | None) -> str:
    """A label for messages and source.path, never a path we open: keep it one short line."""
    return _CONTROL.sub("", name or "")[:255]


def _errors(e: ValidationError) -> list[dict[str, Any]]:
    # Without `input`: it would echo the whole report back.
    return [{"type": err["type"], "loc": ["body", *err["loc"]], "msg": err["msg"]} for err in e.errors()]


def request_body_openapi() -> dict[str, Any]:
    options = Options.model_json_schema()["properties"]
    json_schema = BriefRequest.model_json_schema()
    # The report first, then its options (pydantic lists inherited fields first).
    props = json_schema["properties"]
    json_schema["properties"] = {"text": props["text"], "filename": props["filename"], **options}
    form_schema = {
        "type": "object",
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The report file: .txt .md .html .htm .pdf .docx",
            },
            "text": {"type": "string", "description": "Or the report as text, when no file is sent."},
            "filename": {"type": "string", "maxLength": 255, "description": "Names a `text` report."},
            **options,
        },
    }
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": json_schema,
                "examples": {
                    "report": {
                        "summary": "A short report as text",
                        "value": {"text": EXAMPLE_TEXT, "filename": "qinghe.txt"},
                    },
                    "markdown": {
                        "summary": "The same, answered as a Markdown brief",
                        "value": {"text": EXAMPLE_TEXT, "format": "md"},
                    },
                },
            },
            "multipart/form-data": {
                "schema": form_schema,
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            },
        },
    }
