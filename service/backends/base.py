"""The one small interface every backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from service.document import Document, Extraction


@runtime_checkable
class Backend(Protocol):
    #: recorded in provenance.backend
    name: str

    def extract(self, doc: Document) -> Extraction:
        """Propose items for the whole document. Chunk-level failures become warnings, not raises."""
        ...
