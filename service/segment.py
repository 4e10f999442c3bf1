"""Split the normalized text into sentences: the unit every citation refers to.

A sentence ends at 。！？； (with any closing quotes that follow) or at a line end, so a heading line
is a sentence of its own and each `；`-separated clause of a list can be cited alone. Ids are
`s1`, `s2`, … in document order: the same normalized text always gets the same ids.
"""

from __future__ import annotations

import re

from service.document import Sentence

_END = re.compile(r"[。！？；!?]+[”’」』）》]*|\n")


def split(text: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    pos = 0

    def add(start: int, end: int) -> None:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            sentences.append(
                Sentence(id=f"s{len(sentences) + 1}", start=start, end=end, text=text[start:end])
            )

    for m in _END.finditer(text):
        add(pos, m.end())
        pos = m.end()
    add(pos, len(text))
    return sentences
