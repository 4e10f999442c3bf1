"""`govbrief …` with a slow, counting backend: the process the resume tests start and kill.

    python tests/batch_child.py batch INPUT… -o OUT [options]

Every `batch`/`compare` option works as in the real CLI; only the backend is replaced (through
the CLI's `backend_from_options`) by the rules backend slowed down by GOVBRIEF_TEST_DELAY seconds
per report, which appends `pid<TAB>path` to GOVBRIEF_TEST_WORKLOG once a report's extraction is
done: the tests' independent count of the work each input got.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import service.cli.batch as cli_batch
from service.backends.rules import RulesBackend
from service.cli import app
from service.document import Document, Extraction


class SlowCountingBackend:
    name = "rules"

    def __init__(self, delay: float, worklog: str) -> None:
        self.inner = RulesBackend()
        self.delay = delay
        self.worklog = worklog

    def extract(self, doc: Document) -> Extraction:
        time.sleep(self.delay)
        extraction = self.inner.extract(doc)
        fd = os.open(self.worklog, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()}\t{doc.path}\n".encode())
        finally:
            os.close(fd)
        return extraction


def _backend(name: str | None, settings: Any = None, **kw: Any) -> SlowCountingBackend:
    return SlowCountingBackend(float(os.environ.get("GOVBRIEF_TEST_DELAY", "0.05")), os.environ["GOVBRIEF_TEST_WORKLOG"])


if __name__ == "__main__":
    cli_batch.backend_from_options = _backend  # type: ignore[assignment]
    app(sys.argv[1:])
