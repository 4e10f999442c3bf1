"""The hand-written golden set (`evals/golden/*.json`): loading and validating it.

The files are written by people, so the models are strict (`extra="forbid"`): a misspelt key such as
`qoute` must be an error, not an entry that silently never matches. See `evals/golden/README.md` for
how the entries were decided.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from service.errors import GovbriefError
from service.models import SECTION_NAMES, Category, Genre

META_FIELDS = ("genre", "year", "region", "issuer", "published", "doc_number", "title", "meeting")


class Split(StrEnum):
    """A prompt is tuned on `dev` reports and judged on `test` ones."""

    dev = "dev"
    test = "test"


class EvalError(GovbriefError):
    """The golden set, a run record or a baseline that cannot be used (the user can fix it)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GoldenMeta(_Strict):
    genre: Genre | None = None  # set from the report's top-level `genre`
    title: str | None = None
    issuer: str | None = None
    region: str | None = None
    year: int | None = None
    published: str | None = None
    doc_number: str | None = None
    meeting: str | None = None
    #: Other answers that also count as right, per field, e.g. {"issuer": ["中原区", "郑州市中原区"]}.
    #: Optional: the notes of some golden files name such looser matches in prose.
    alternates: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("alternates")
    @classmethod
    def _known_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(META_FIELDS))
        if unknown:
            raise ValueError(f"alternates for unknown meta fields: {', '.join(unknown)}")
        return value


class GoldenEntry(_Strict):
    quote: str = Field(min_length=1, description="Verbatim from the raw seed file")
    heading: str | None = None  # achievements
    title: str | None = None  # leadership, problems, plans
    category: Category | None = None  # optional; scored as category agreement when present

    @property
    def label(self) -> str:
        return self.heading or self.title or self.quote


class GoldenReport(_Strict):
    report: str = Field(description="Path of the report, relative to the repository root, or absolute")
    genre: Genre = Field(description="The kind of annual report, as a reader takes it")
    split: Split = Split.dev
    meta: GoldenMeta
    achievements: list[GoldenEntry] = Field(default_factory=list)
    leadership: list[GoldenEntry] = Field(default_factory=list)
    problems: list[GoldenEntry] = Field(default_factory=list)
    plans: list[GoldenEntry] = Field(default_factory=list)
    notes: str = ""

    _id: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _meta_genre(self) -> GoldenReport:
        # One statement of the genre per file: the top-level one, which the meta score checks too.
        self.meta.genre = self.genre
        return self

    _path: Path | None = PrivateAttr(default=None)

    @property
    def id(self) -> str:
        """The golden file's stem; run records and baselines key reports by it."""
        return self._id

    @property
    def path(self) -> Path:
        """The report file, resolved."""
        return self._path if self._path is not None else Path(self.report)

    def entries(self, section: str) -> list[GoldenEntry]:
        entries: list[GoldenEntry] = getattr(self, section)
        return entries

    def fingerprint(self) -> str:
        data = self.model_dump(mode="json", exclude={"notes"})
        return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def repo_root_of(golden_dir: Path) -> Path:
    """`evals/golden` → the repository root, which golden `report` paths are relative to."""
    return golden_dir.resolve().parent.parent


def load_golden_file(path: Path, root: Path | None = None) -> GoldenReport:
    root = root if root is not None else repo_root_of(path.parent)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot read golden file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}: not valid JSON: {exc}") from None
    try:
        golden = GoldenReport.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
        )
        raise EvalError(f"{path}: {problems}") from None
    report = Path(golden.report)
    golden._path = report if report.is_absolute() else (root / report).resolve()
    golden._id = path.stem
    return golden


def load_golden_dir(golden_dir: Path, *, check_reports: bool = True) -> list[GoldenReport]:
    """Every `*.json` in `golden_dir`, sorted by name. Raises EvalError when there are none."""
    if not golden_dir.is_dir():
        raise EvalError(f"{golden_dir}: golden directory not found")
    files = sorted(golden_dir.glob("*.json"))
    if not files:
        raise EvalError(f"{golden_dir}: no golden files (*.json)")
    root = repo_root_of(golden_dir)
    reports = [load_golden_file(f, root) for f in files]
    if check_reports:
        missing = [f"{g.id} → {g.path}" for g in reports if not g.path.is_file()]
        if missing:
            raise EvalError(f"report files named by the golden set are missing: {', '.join(missing)}")
    return reports


def golden_set_hash(reports: list[GoldenReport]) -> str:
    """Changes whenever an expectation changes (notes excluded), so a run says which golden set it used."""
    data = "\n".join(f"{g.id}:{g.fingerprint()}" for g in sorted(reports, key=lambda g: g.id))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


__all__ = [
    "META_FIELDS",
    "SECTION_NAMES",
    "EvalError",
    "GoldenEntry",
    "GoldenMeta",
    "GoldenReport",
    "Split",
    "golden_set_hash",
    "load_golden_dir",
    "load_golden_file",
    "repo_root_of",
]
