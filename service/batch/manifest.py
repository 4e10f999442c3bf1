"""A batch's durable state in its output folder, and how outputs are named and written.

    OUTDIR/<name>.json, <name>.md   one brief per report, each written atomically (tmp + os.replace)
    OUTDIR/manifest.jsonl           the journal: one JSON line per finished report, appended and
                                    fsynced the moment the report's files are in place
    OUTDIR/manifest.json            the readable view (every input's latest record), rewritten
                                    atomically during and at the end of a run
    OUTDIR/briefs.jsonl             every brief, one per line, rebuilt at the end of a run

The journal is the source of truth. A run killed with SIGKILL loses at most its in-flight reports:
each finished one is on disk (files first, then its journal line), and the next run reads the
journal back, skipping what is done with the same input bytes and settings fingerprint. A line torn
by the kill is skipped on reading. `manifest.json` and `briefs.jsonl` are derived and rebuilt, so
a kill between their writes costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import filelock

from service.errors import GovbriefError
from service.files import write_atomic
from service.models import schema_hash

JOURNAL = "manifest.jsonl"
MANIFEST = "manifest.json"
BRIEFS = "briefs.jsonl"
LOCK = ".govbrief-batch.lock"
MANIFEST_FORMAT = 1

#: Stems a report may not take: they would overwrite the batch's own files (or the comparison's).
RESERVED_NAMES = frozenset({"manifest", "briefs", "compare", "compare_long", "problems", "followups"})
#: Bytes, not characters: Linux caps a file name at 255 bytes, and a Chinese character takes 3.
_NAME_MAX_BYTES = 180
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')

Status = Literal["ok", "partial", "failed"]
DONE: frozenset[str] = frozenset({"ok"})


class OutdirBusyError(GovbriefError):
    """Another batch is writing to the same output folder."""


# --- settings fingerprint -----------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """Everything that changes what a report's brief would be, besides the report's own bytes."""

    backend: str
    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    prompt_hash: str | None = None
    llm_schema_hash: str | None = None  # the schema the model answers in (chunk results)
    schema_hash: str = field(default_factory=schema_hash)  # the Brief's
    chunk_max_tokens: int = 1500
    with_text: bool = False
    backend_settings: str | None = None  # JSON of the backend's own `fingerprint()`, if it has one

    @classmethod
    def of(cls, backend: Any, *, chunk_max_tokens: int, with_text: bool) -> Fingerprint:
        """Read off a built backend. LLM backends expose model, prompt and schema hash as attributes
        (the rules backend has none of them); a backend with a `fingerprint()` method adds whatever
        else changes its answers (decoding, packing…)."""
        prompt = getattr(backend, "prompt", None)
        own = getattr(backend, "fingerprint", None)
        return cls(
            backend=str(backend.name),
            model=getattr(backend, "model", None),
            prompt_id=getattr(prompt, "id", None),
            prompt_version=getattr(prompt, "version", None),
            prompt_hash=getattr(prompt, "hash", None),
            llm_schema_hash=getattr(backend, "schema_hash", None),
            chunk_max_tokens=chunk_max_tokens,
            with_text=with_text,
            backend_settings=json.dumps(own(), sort_keys=True, default=str) if callable(own) else None,
        )

    @property
    def digest(self) -> str:
        data = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "digest": self.digest}


# --- records and the journal --------------------------------------------------------------------


@dataclass
class Record:
    """What the manifest says about one input. `input` (an absolute path) is its identity."""

    input: str
    name: str
    status: Status
    sha256: str | None = None
    error: str | None = None
    error_type: str | None = None
    fingerprint: str | None = None
    backend: str | None = None
    model: str | None = None
    prompt_id: str | None = None
    prompt_version: str | None = None
    schema_hash: str | None = None
    chunks: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cache_hit: bool = False
    items: dict[str, int] = field(default_factory=dict)
    warnings: int = 0
    failed_chunks: list[str] = field(default_factory=list)
    elapsed_ms: int = 0
    finished_at: str = ""
    run: str = ""
    attempts: int = 1
    given: str | None = None
    traceback: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def outputs(self) -> dict[str, str]:
        return {} if self.status == "failed" else {"json": f"{self.name}.json", "md": f"{self.name}.md"}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outputs"] = self.outputs()
        # Every key always present (null when unknown), so scripts can rely on the shape.
        return {k: v for k, v in data.items() if v is not None or k not in ("traceback", "given")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class Journal:
    """Append-only `manifest.jsonl`: every write is one line, flushed and fsynced before it returns."""

    def __init__(self, outdir: Path) -> None:
        self.path = outdir / JOURNAL
        self._lock = threading.Lock()
        self._fd: int | None = None

    def load(self) -> dict[str, Record]:
        """The latest record per input. Lines that don't parse (a tail torn by a kill) are skipped."""
        records: dict[str, Record] = {}
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return records
        for line in raw.splitlines():
            try:
                record = Record.from_json(json.loads(line))
            except (ValueError, TypeError):
                continue
            records[record.input] = record
        return records

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # A kill mid-write can leave a line without its newline; without this the next record would
        # be glued onto the fragment and lost with it.
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: Record) -> None:
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode()
        with self._lock:
            if self._fd is None:
                self.open()
            assert self._fd is not None
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def compact(self, records: Iterable[Record]) -> None:
        """Rewrite with one line per input, so reruns don't grow the journal forever."""
        with self._lock:
            text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in records)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            write_atomic(self.path, text)


def write_manifest(
    outdir: Path,
    records: list[Record],
    *,
    fingerprint: Fingerprint,
    run: dict[str, Any],
) -> None:
    counts = {status: sum(1 for r in records if r.status == status) for status in ("ok", "partial", "failed")}
    data = {
        "format": MANIFEST_FORMAT,
        "updated_at": now_iso(),
        "settings": fingerprint.as_dict(),
        "last_run": run,
        "totals": {
            "inputs": len(records),
            **counts,
            "prompt_tokens": sum(r.prompt_tokens for r in records),
            "completion_tokens": sum(r.completion_tokens for r in records),
        },
        "inputs": [r.to_json() for r in records],
    }
    write_atomic(outdir / MANIFEST, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def read_manifest_records(outdir: Path) -> list[Record]:
    """Every input's latest record: from the journal (the truth), else from `manifest.json`."""
    journal = Journal(outdir).load()
    if journal:
        return list(journal.values())
    try:
        data = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Record.from_json(d) for d in data.get("inputs", []) if isinstance(d, dict)]


# --- files --------------------------------------------------------------------------------------


@contextlib.contextmanager
def outdir_lock(outdir: Path) -> Iterator[None]:
    """One batch per output folder at a time, on every OS (flock on POSIX, msvcrt on Windows);
    the OS drops the lock when the process dies."""
    lock = filelock.FileLock(outdir / LOCK, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise OutdirBusyError(f"{outdir}: another govbrief batch is writing to this folder") from None
    try:
        yield
    finally:
        lock.release()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def sha256_file(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


# --- names --------------------------------------------------------------------------------------


class Names:
    """Output stems: the input's own stem when it is free, else the stem plus a hash of its path.

    A name, once given, sticks to its input across runs (it comes back from the journal), so adding
    `b/report.txt` next to `a/report.txt` never renames the first one's briefs. Names are compared
    case-insensitively, for case-insensitive file systems.
    """

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self._by_input: dict[str, str] = dict(known or {})
        self._taken = {n.casefold() for n in self._by_input.values()}

    def name_for(self, input_key: str, stem: str) -> str:
        if input_key in self._by_input:
            return self._by_input[input_key]
        base = safe_stem(stem)
        suffix = hashlib.sha1(input_key.encode()).hexdigest()
        candidates = [base, *(f"{base}-{suffix[i : i + 8]}" for i in range(0, 32, 8))]
        name = next((c for c in candidates if self._free(c)), None)
        n = 2
        while name is None:
            name = f"{base}-{suffix[:8]}-{n}" if self._free(f"{base}-{suffix[:8]}-{n}") else None
            n += 1
        self._by_input[input_key] = name
        self._taken.add(name.casefold())
        return name

    def _free(self, name: str) -> bool:
        return name.casefold() not in self._taken and name.casefold() not in RESERVED_NAMES


def safe_stem(stem: str) -> str:
    stem = unicodedata.normalize("NFC", stem)
    stem = _UNSAFE.sub("_", stem).strip(" .") or "report"
    encoded = stem.encode("utf-8")
    if len(encoded) > _NAME_MAX_BYTES:
        stem = encoded[:_NAME_MAX_BYTES].decode("utf-8", errors="ignore").rstrip(" .") or "report"
    return stem
