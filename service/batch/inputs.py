"""Which files a batch works on: named files, folders walked recursively, and list files.

- A file named on the command line is always taken, whatever its suffix: the user asked for it, and
  if it is not a report its failure belongs in the manifest, not in silence.
- A folder is walked recursively for report files (the supported suffixes, or `--glob` patterns on
  the file name), in sorted order, skipping hidden entries and the output folder itself (its `.md`
  briefs would otherwise be summarized on the next run).
- `@list.txt`, or a file ending in `.lst`/`.list`, holds one path per line (blank lines and `#`
  comments skipped); relative paths are relative to the list file, so a list travels with its corpus.
  An entry that is missing or unreadable becomes a failed input: one bad line in a list of thousands
  must not stop the other reports.
- The same file reached twice (named and inside a folder, or through a symlink) is taken once.

Command-line arguments that do not exist are a usage error (exit 2) before anything runs: that is a
typo, and an empty manifest would hide it.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from service.errors import GovbriefError
from service.ingest import SUPPORTED_SUFFIXES

LIST_SUFFIXES = (".lst", ".list")


class InputsError(GovbriefError):
    """The inputs as given cannot make a batch (a missing argument, an unreadable list file)."""


@dataclass(frozen=True)
class BatchInput:
    """One report to brief. `path` is absolute and is the input's identity across runs."""

    path: Path
    given: str  # as the user wrote it (or the list line), for messages

    @property
    def key(self) -> str:
        return str(self.path)


def collect_inputs(
    args: Sequence[str], *, globs: Sequence[str] = (), exclude: Iterable[Path] = (), cwd: Path | None = None
) -> list[BatchInput]:
    """Expand command-line INPUTs into the batch's inputs, in order, without duplicates."""
    base = cwd or Path.cwd()
    excluded = [_absolute(p, base) for p in exclude]
    out: list[BatchInput] = []
    seen: set[str] = set()

    def add(path: Path, given: str) -> None:
        key = str(path)
        if key not in seen:
            seen.add(key)
            out.append(BatchInput(path=path, given=given))

    for arg in args:
        if arg.startswith("@"):
            list_path = _absolute(Path(arg[1:]), base)
            if not list_path.is_file():
                raise InputsError(f"{arg[1:]}: list file not found")
            _expand_list(list_path, globs, excluded, add)
            continue
        path = _absolute(Path(arg), base)
        if not os.path.lexists(path):
            raise InputsError(f"{arg}: no such file or directory")
        if path.is_dir():
            for found in _walk(path, globs, excluded):
                add(found, str(found))
        elif path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            _expand_list(path, globs, excluded, add)
        else:
            add(_resolve(path), arg)
    return out


def _expand_list(
    list_path: Path, globs: Sequence[str], excluded: list[Path], add: Callable[[Path, str], None]
) -> None:
    try:
        lines = list_path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputsError(f"{list_path}: cannot read list file ({e})") from None
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = _absolute(Path(entry), list_path.parent)
        if path.is_dir():
            for found in _walk(path, globs, excluded):
                add(found, str(found))
        else:
            # Missing, a FIFO, anything: ingest says what is wrong with it, in the manifest.
            add(_resolve(path), entry)


def _walk(root: Path, globs: Sequence[str], excluded: list[Path]) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not any(_same(here / d, x) for x in excluded)
        )
        for name in sorted(filenames):
            if name.startswith(".") or not _selected(name, globs):
                continue
            path = here / name
            if path.is_file():  # a broken symlink or a FIFO is not a report a walk should pick up
                found.append(_resolve(path))
    return found


def _selected(name: str, globs: Sequence[str]) -> bool:
    if globs:
        return any(fnmatch.fnmatch(name, g) for g in globs)
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def _absolute(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:  # a symlink loop: keep the name, ingest will report it
        return path


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
