"""The one atomic file writer: briefs, manifests, comparisons and eval records all go through it."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


def write_atomic(path: Path, text: str | bytes) -> None:
    """Readers see the old file or the new one, never half of one, even across a crash (the data
    is fsynced before the rename). The temporary file is hidden, unique to this process and thread,
    and removed on any failure; batch clears `.*.tmp` left by a killed run."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
