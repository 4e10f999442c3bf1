"""Items a backend proposed that never reached the brief, and why, read from the brief's warnings.

The pipeline says what it dropped only in its warnings (one line per item), so this is where an
eval learns it. Each pattern below mirrors one message of `service.ground` or `service.extract`;
a message no pattern knows is not an item drop (a missing section, a metric left out).
"""

from __future__ import annotations

import re
from collections import Counter

from service.evals.record import Dropped
from service.models import SECTION_NAMES

_SECTIONS = "|".join(s.value for s in SECTION_NAMES)

#: (pattern, reason): the pattern names `title` and, when the message says it, `section`.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"^dropped (?P<section>{_SECTIONS}) item '(?P<title>.*)': no evidence could be grounded"),
        "no evidence could be grounded",
    ),
    (
        re.compile(
            r"^chunk \S+: item (?P<title>'.*'|\".*\") dropped: it cites sentence ids not in the chunk"
        ),
        "cites sentence ids outside its chunk",
    ),
    (
        re.compile(r"^chunk (?P<title>\S+): no usable answer, its items are missing"),
        "chunk without a usable answer (its items are missing)",
    ),
]


def dropped_items(warnings: list[str]) -> list[Dropped]:
    out = []
    for warning in warnings:
        for pattern, reason in _PATTERNS:
            m = pattern.match(warning)
            if m:
                title = m.group("title").strip("'\"")
                out.append(Dropped(section=m.groupdict().get("section"), title=title, reason=reason))
                break
    return out


def dropped_by_section(dropped: list[Dropped]) -> Counter[str]:
    return Counter(d.section for d in dropped if d.section is not None)


def summarize_dropped(dropped: list[Dropped]) -> list[tuple[str, int]]:
    """(reason, count), most frequent first: the terminal's one-line-per-reason summary."""
    return Counter(d.reason for d in dropped).most_common()
