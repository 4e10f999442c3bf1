"""The fake OpenAI server with the files and batches endpoints of the Batch API, for tests and bench.

    with FakeOpenAIBatch(polls_to_complete=2) as fake:
        ... run `govbrief batch --via openai-batch` against fake.base_url ...
        fake.uploaded_lines()      # the JSONL requests as uploaded
        fake.batches[batch_id]     # the batch object as last served

Built on `FakeOpenAI` (composition through its `route()` hook; that file is not edited):

    POST /v1/files                   multipart upload (purpose=batch) → a file object
    GET  /v1/files/{id}              the file object
    GET  /v1/files/{id}/content      the file's bytes (uploaded requests, or results)
    POST /v1/batches                 validates the input file's lines → a batch (validating)
    GET  /v1/batches/{id}            each poll moves it on: in_progress, then (after
                                     `polls_to_complete` polls) runs every line through the chat
                                     responder and completes, with an output and an error file
    POST /v1/batches/{id}/cancel     cancelled

Lines are answered by `line_responder` (the base server's `auto_responder` by default, i.e. the
same answers the direct path gets); `fail_line(custom_id or predicate, status)` makes lines fail, and
`expire_after` completes only that many lines and ends the batch `expired`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fake_openai import FakeOpenAI, RecordedRequest, Reply, auto_responder, error_reply


class FakeOpenAIBatch(FakeOpenAI):
    def __init__(
        self,
        *,
        latency: float = 0.0,
        polls_to_complete: int = 2,
        line_responder: Callable[[RecordedRequest], Reply] = auto_responder,
        expire_after: int | None = None,
    ) -> None:
        super().__init__(latency=latency)
        self.polls_to_complete = polls_to_complete
        self.line_responder = line_responder
        self.expire_after = expire_after
        self.files: dict[str, dict[str, Any]] = {}  # id → {"meta": file object, "data": bytes}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.line_requests: list[RecordedRequest] = []  # every batch line answered, as a chat request
        self._failing: list[tuple[Callable[[str], bool], int]] = []
        self._ids = itertools.count(1)
        self._batch_lock = threading.Lock()
        self.route("POST", "/v1/files", self._create_file)
        self.route("GET", "/v1/files/{file_id}", self._file_meta)
        self.route("GET", "/v1/files/{file_id}/content", self._file_content)
        self.route("POST", "/v1/batches", self._create_batch)
        self.route("GET", "/v1/batches/{batch_id}", self._get_batch)
        self.route("POST", "/v1/batches/{batch_id}/cancel", self._cancel_batch)

    # --- scripting and inspection ---------------------------------------------------------------

    def fail_line(self, custom_id: str | Callable[[str], bool], status: int = 500) -> None:
        """Answer the line(s) with this custom_id (or for which the predicate holds) with `status`."""
        self._failing.append((custom_id if callable(custom_id) else custom_id.__eq__, status))

    def clear_failures(self) -> None:
        self._failing.clear()

    def uploaded_lines(self) -> list[dict[str, Any]]:
        """Every request line of every uploaded batch input file, parsed."""
        lines = []
        for f in self.files.values():
            if f["meta"]["purpose"] == "batch":
                lines += [json.loads(x) for x in f["data"].decode().splitlines() if x.strip()]
        return lines

    def batch_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(("/v1/files", "/v1/batches"))]

    # --- files ----------------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"

    def _add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        meta = {
            "id": self._new_id("file"),
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }
        with self._batch_lock:
            self.files[meta["id"]] = {"meta": meta, "data": data}
        return meta

    def _create_file(self, request: RecordedRequest) -> Reply:
        content_type = request.headers.get("content-type", "")
        if "multipart/form-data" not in content_type:
            return error_reply(400, "expected multipart/form-data")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        fields: dict[str, Any] = {}
        filename = "upload.jsonl"
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                filename = part.get_filename()
            fields[name] = part.get_payload(decode=True)
        if "file" not in fields:
            return error_reply(400, "missing file")
        purpose = (fields.get("purpose") or b"").decode()
        return Reply(json=self._add_file(fields["file"], filename, purpose))

    def _file_meta(self, request: RecordedRequest) -> Reply:
        f = self.files.get(request.params["file_id"])
        return Reply(json=f["meta"]) if f else error_reply(404, "no such file")

    def _file_content(self, request: RecordedRequest) -> Reply:
        f = self.files.get(request.params["file_id"])
        return Reply(body=f["data"]) if f else error_reply(404, "no such file")

    # --- batches --------------------------------------------------------------------------------

    def _create_batch(self, request: RecordedRequest) -> Reply:
        body = request.json or {}
        f = self.files.get(body.get("input_file_id", ""))
        if f is None:
            return error_reply(400, "input_file_id not found")
        endpoint = body.get("endpoint")
        errors = []
        seen: set[str] = set()
        lines = [x for x in f["data"].decode().splitlines() if x.strip()]
        for n, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except ValueError:
                errors.append({"line": n, "message": "invalid JSON"})
                continue
            if set(row) != {"custom_id", "method", "url", "body"}:
                errors.append(
                    {"line": n, "message": f"keys must be custom_id, method, url, body; got {sorted(row)}"}
                )
            elif row["method"] != "POST" or row["url"] != endpoint:
                errors.append({"line": n, "message": "method must be POST and url the batch endpoint"})
            elif row["custom_id"] in seen:
                errors.append({"line": n, "message": f"duplicate custom_id {row['custom_id']}"})
            seen.add(str(row.get("custom_id")))
        batch = {
            "id": self._new_id("batch"),
            "object": "batch",
            "endpoint": endpoint,
            "input_file_id": f["meta"]["id"],
            "completion_window": body.get("completion_window"),
            "status": "failed" if errors else "validating",
            "created_at": int(time.time()),
            "output_file_id": None,
            "error_file_id": None,
            "errors": {"object": "list", "data": errors} if errors else None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        with self._batch_lock:
            self.batches[batch["id"]] = batch
            self.polls[batch["id"]] = 0
        return Reply(json=batch)

    def _get_batch(self, request: RecordedRequest) -> Reply:
        batch_id = request.params["batch_id"]
        with self._batch_lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return error_reply(404, "no such batch")
            self.polls[batch_id] += 1
            polls = self.polls[batch_id]
        if batch["status"] in ("validating", "in_progress"):
            if polls >= self.polls_to_complete:
                self._run(batch)
            else:
                batch["status"] = "in_progress"
        return Reply(json=batch)

    def _cancel_batch(self, request: RecordedRequest) -> Reply:
        batch = self.batches.get(request.params["batch_id"])
        if batch is None:
            return error_reply(404, "no such batch")
        batch["status"] = "cancelled"
        return Reply(json=batch)

    def _run(self, batch: dict[str, Any]) -> None:
        data = self.files[batch["input_file_id"]]["data"].decode()
        rows = [json.loads(x) for x in data.splitlines() if x.strip()]
        output, errors = [], []
        for n, row in enumerate(rows):
            if self.expire_after is not None and n >= self.expire_after:
                break
            cid = row["custom_id"]
            body = row["body"]
            chat = RecordedRequest(
                method="POST",
                path="/v1/chat/completions",
                headers={"content-type": "application/json"},
                body=json.dumps(body, ensure_ascii=False).encode(),
                json=body,
                received_at=time.monotonic(),
            )
            self.line_requests.append(chat)
            status = next((code for matches, code in self._failing if matches(cid)), None)
            reply = error_reply(status, "scripted failure") if status else self.line_responder(chat)
            result = {
                "id": f"batch_req_{n}",
                "custom_id": cid,
                "response": {"status_code": reply.status, "request_id": f"req_{n}", "body": reply.json},
                "error": None,
            }
            (output if reply.status == 200 else errors).append(json.dumps(result, ensure_ascii=False))
        if output:
            batch["output_file_id"] = self._add_file(
                ("\n".join(output) + "\n").encode(), "output.jsonl", "batch_output"
            )["id"]
        if errors:
            batch["error_file_id"] = self._add_file(
                ("\n".join(errors) + "\n").encode(), "errors.jsonl", "batch_output"
            )["id"]
        batch["request_counts"] = {"total": len(rows), "completed": len(output), "failed": len(errors)}
        batch["status"] = (
            "expired" if self.expire_after is not None and self.expire_after < len(rows) else "completed"
        )
        batch["completed_at"] = int(time.time())
