"""chunk: along section boundaries, under a token budget counted offline, each with its heading path."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from service import chunk, outline, segment, tokens
from service.document import Chunk, Outline, SectionKind, Sentence
from service.normalize import normalize

REPORT = """某县人民政府关于2022年度法治政府建设情况的报告
2022年，我县扎实推进法治政府建设，现将有关情况报告如下。
一、主要成效
（一）依法全面履行政府职能
1.深化放管服改革。全年办理审批事项1361件。
2.优化营商环境。清理规范性文件46件。
（二）完善依法行政制度体系
出台文件5件。审查合同137份。
二、存在问题
一是领导干部法治思维有待提升；二是基层执法力量薄弱。
三、2023年工作打算
持续深化改革，加强执法监督。
某县人民政府
2023年2月10日
"""


def _analyze(text: str) -> tuple[str, Outline, list[Sentence]]:
    text = normalize(text)
    return text, outline.parse(text), segment.split(text)


def _top(tree: Outline, sentence: Sentence) -> int | None:
    path = tree.path_at(sentence.start)
    return path[0].start if path else None


def _block(tree: Outline, sentence: Sentence) -> tuple[int, ...]:
    return tuple(n.start for n in tree.path_at(sentence.start)[:2])


def _check(text: str, tree: Outline, sentences: list[Sentence], chunks: list[Chunk], budget: int) -> None:
    # ids, and the chunks partition the sentences in order
    assert [c.id for c in chunks] == [f"c{i}" for i in range(1, len(chunks) + 1)]
    assert [s for c in chunks for s in c.sentences] == sentences
    for c in chunks:
        assert c.sentences
        # never crosses a top-level section
        assert len({_top(tree, s) for s in c.sentences}) == 1
        # tokens are counted with the offline encoding, one separator token per sentence
        assert c.tokens == sum(tokens.count(s.text) + 1 for s in c.sentences)
        # under the budget, unless one sentence alone is over it
        assert c.tokens <= budget or len(c.sentences) == 1
        assert c.kind == tree.kind_at(c.sentences[0].start)
        assert c.start == c.sentences[0].start and c.end == c.sentences[-1].end
    # Greedy: a chunk that ends inside a second-level block of its section ends only because the
    # next sentence would not fit.
    for a, b in itertools.pairwise(chunks):
        last, first = a.sentences[-1], b.sentences[0]
        if _block(tree, last) == _block(tree, first):
            assert a.tokens + tokens.count(first.text) + 1 > budget


@pytest.mark.parametrize("budget", [100, 300, 1500])
def test_chunks_of_the_seeds(seed_path: Path, budget: int) -> None:
    text, tree, sentences = _analyze(seed_path.read_text(encoding="utf-8"))
    chunks = chunk.make_chunks(text, tree, sentences, max_tokens=budget)
    _check(text, tree, sentences, chunks, budget)


def test_a_small_report_is_one_chunk_per_top_level_section() -> None:
    text, tree, sentences = _analyze(REPORT)
    chunks = chunk.make_chunks(text, tree, sentences, max_tokens=1500)
    _check(text, tree, sentences, chunks, 1500)
    assert [c.kind for c in chunks] == [
        SectionKind.preamble,
        SectionKind.achievements,
        SectionKind.problems,
        SectionKind.plans,
        SectionKind.closing,
    ]
    assert [c.heading_path for c in chunks] == [[], ["主要成效"], ["存在问题"], ["2023年工作打算"], []]
    assert [c.kind for c in chunk.extractable(chunks)] == [
        SectionKind.achievements,
        SectionKind.problems,
        SectionKind.plans,
    ]


def test_a_tight_budget_splits_at_second_level_sections_and_keeps_their_path() -> None:
    text, tree, sentences = _analyze(REPORT)
    first_block = [
        s for s in sentences if tree.kind_at(s.start) == SectionKind.achievements and "（二）" not in s.text
    ]
    budget = sum(tokens.count(s.text) + 1 for s in first_block) + 5  # (一) fits, (一)+(二) does not
    chunks = chunk.make_chunks(text, tree, sentences, max_tokens=budget)
    _check(text, tree, sentences, chunks, budget)
    achievements = [c for c in chunks if c.kind == SectionKind.achievements]
    assert [c.heading_path for c in achievements] == [["主要成效"], ["主要成效", "完善依法行政制度体系"]]
    assert achievements[1].sentences[0].text == "（二）完善依法行政制度体系"


def test_one_over_long_sentence_is_a_chunk_of_its_own() -> None:
    long_sentence = "全面推进依法行政，" * 80 + "取得明显成效。"
    text, tree, sentences = _analyze(f"一、主要成效\n开头一句。{long_sentence}结尾一句。\n")
    budget = 60
    assert tokens.count(long_sentence) > budget
    chunks = chunk.make_chunks(text, tree, sentences, max_tokens=budget)
    _check(text, tree, sentences, chunks, budget)
    alone = [c for c in chunks if c.tokens > budget]
    assert len(alone) == 1 and [s.text for s in alone[0].sentences] == [long_sentence]


def test_chunk_heading_path_is_the_shared_path(sample_report_path: Path) -> None:
    text, tree, sentences = _analyze(sample_report_path.read_text(encoding="utf-8"))
    for c in chunk.make_chunks(text, tree, sentences, max_tokens=200):
        first = [n.title for n in tree.path_at(c.start)]
        last = [n.title for n in tree.path_at(c.sentences[-1].start)]
        assert first[: len(c.heading_path)] == c.heading_path == last[: len(c.heading_path)]
        if c.kind not in (SectionKind.preamble, SectionKind.closing):
            assert c.heading_path  # a chunk of a section always names it
