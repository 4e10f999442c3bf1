"""segment: sentences with stable ids and exact spans — the unit every citation refers to."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.normalize import normalize
from service.segment import split


def _texts(text: str) -> list[str]:
    return [s.text for s in split(text)]


@pytest.mark.parametrize(
    "text, sentences",
    [
        (
            "正文第一句。第二句！第三句？第四；第五",
            ["正文第一句。", "第二句！", "第三句？", "第四；", "第五"],
        ),
        ("一、主要成效\n（一）依法履职\n正文。", ["一、主要成效", "（一）依法履职", "正文。"]),
        ("他说：“好。”然后走了。", ["他说：“好。”", "然后走了。"]),
        ("出台《条例（试行）》。", ["出台《条例（试行）》。"]),
        ("问题一；问题二；", ["问题一；", "问题二；"]),
        ("确有成效！！接着。", ["确有成效！！", "接着。"]),
        ("结尾没有标点", ["结尾没有标点"]),
        ("是否到位?是的!", ["是否到位?", "是的!"]),
        ("", []),
    ],
)
def test_sentence_boundaries(text: str, sentences: list[str]) -> None:
    assert _texts(text) == sentences


def test_commas_and_colons_do_not_end_a_sentence() -> None:
    assert _texts("一是加强审查，审查合同137份：其中重大合同5份。") == [
        "一是加强审查，审查合同137份：其中重大合同5份。"
    ]


def test_spans_ids_and_coverage(seed_path: Path) -> None:
    text = normalize(seed_path.read_text(encoding="utf-8"))
    sentences = split(text)
    assert [s.id for s in sentences] == [f"s{i}" for i in range(1, len(sentences) + 1)]
    prev_end = 0
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        assert s.start >= prev_end
        # Only whitespace lies between two sentences.
        assert not text[prev_end : s.start].strip()
        prev_end = s.end
    assert not text[prev_end:].strip()
    # Every line break ends a sentence: none holds a newline.
    assert all("\n" not in s.text for s in sentences)


def test_ids_are_stable(sample_report_path: Path) -> None:
    text = normalize(sample_report_path.read_text(encoding="utf-8"))
    assert split(text) == split(text)
    # A sentence keeps its id whatever follows it.
    head = text[: text.index("二、党政主要负责人")]
    assert split(head) == split(text)[: len(split(head))]


class _SliceSpy(list):  # type: ignore[type-arg]
    """A sentence list that records how many sentences each slice of it copies."""

    copied: list[int]

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        if isinstance(key, slice):
            self.copied.append(len(range(*key.indices(len(self)))))
        return super().__getitem__(key)


def test_sentences_between_reads_only_the_sentences_it_returns() -> None:
    from service.document import Document, Outline
    from service.models import ReportMeta

    text = "".join(f"第{i}句话。" for i in range(5000))
    sentences = split(text)
    doc = Document("t", "0", text, Outline([], ReportMeta()), sentences, [])
    spy = _SliceSpy(sentences)
    spy.copied = []
    doc.sentences = spy
    for start, end in [(0, 1), (100, 250), (len(text) // 2, len(text) // 2 + 40), (len(text) - 3, len(text))]:
        got = doc.sentences_between(start, end)
        assert got == [s for s in sentences if s.start < end and s.end > start]
        assert spy.copied[-1] <= len(got) + 1  # not the tail of the list
