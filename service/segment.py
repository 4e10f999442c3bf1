"""Split the normalized text into sentences: the unit every citation refers to.

A sentence ends at 。！？； (with any closing quotes that follow) or at a line end, so a heading line
is a sentence of its own and each `；`-separated clause of a list can be cited alone. Ids are
`s1`, `s2`, … in document order: the same normalized text always gets the same ids.
"""

from __future__ import annotations

import re

from service.document import Sentence

_END = re.compile(r"[。！？；!?]+[”’」』）》]*|\n")


def boundaries(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence ranges covering text[start:end] end to end, untrimmed (the outline reads these too)."""
    end = len(text) if end is None else end
    out = []
    pos = start
    for m in _END.finditer(text, start, end):
        out.append((pos, m.end()))
        pos = m.end()
    if pos < end:
        out.append((pos, end))
    return out


def split(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    for start, end in boundaries(text):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            sentences.append(
                Sentence(id=f"s{len(sentences) + 1}", start=start, end=end, text=text[start:end])
            )
    return sentences
