"""Locating golden quotes in the normalized text, and one-to-one matching."""

from __future__ import annotations

from service.evals.match import Candidate, Target, TextIndex, assign, canon, match, overlap, similarity
from service.normalize import normalize

RAW = '一是持续深化改革,打造营商环境新高地。二是推进"互联网+监管",强化 执法 监督;三是加强法治宣传教育。'


def test_a_raw_quote_is_found_after_normalizing_it_like_the_report() -> None:
    text = normalize(RAW)
    found = TextIndex(text).locate("持续深化改革,打造")  # ASCII comma, as in the seed file
    assert found is not None and found.how == "exact"
    ((start, end),) = found.spans
    assert text[start:end] == "持续深化改革，打造"


def test_a_quote_with_other_punctuation_or_spacing_is_found_canonically() -> None:
    text = normalize(RAW)
    found = TextIndex(text).locate("“互联网＋监管” 强化执法")
    assert found is not None and found.how == "canonical"
    ((start, end),) = found.spans
    assert text[start:end] == "互联网+监管”，强化执法"
    assert canon(text[start:end]) == canon("互联网＋监管强化执法")


def test_a_slightly_different_quote_is_found_fuzzily_and_a_foreign_one_not_at_all() -> None:
    index = TextIndex(normalize(RAW))
    found = index.locate("持续深化改革打造营商环境新高低")  # one character wrong
    assert found is not None and found.how == "fuzzy" and found.score >= 90
    # The window may be off by a character; what matters is that it covers the quoted clause.
    true_start = index.text.index("持续深化改革")
    assert overlap(found.spans, [(true_start, true_start + 15)]) >= 13
    assert index.locate("完全无关的一句话内容") is None


def test_every_occurrence_is_returned() -> None:
    found = TextIndex("加强监督。再次加强监督。").locate("加强监督")
    assert found is not None and found.spans == ((0, 4), (7, 11))


def test_overlap_counts_shared_characters_once() -> None:
    assert overlap([(0, 10), (5, 15)], [(8, 20)]) == 7
    assert overlap([(0, 5)], [(5, 9)]) == 0


def test_a_boundary_touch_is_not_a_match() -> None:
    # One shared character: adjacent items, not the same one.
    assert match([Target("q", ((10, 20),))], [Candidate(spans=((0, 11),))]) == []
    assert len(match([Target("q", ((10, 20),))], [Candidate(spans=((0, 12),))])) == 1


def test_matching_maximises_the_number_of_pairs() -> None:
    targets = [Target("a", ((0, 10),)), Target("b", ((10, 20),))]
    items = [Candidate(spans=((0, 20),)), Candidate(spans=((0, 5),))]
    pairs = match(targets, items)
    assert {(p.golden, p.item) for p in pairs} == {(0, 1), (1, 0)}


def test_position_decides_when_both_sides_have_spans() -> None:
    # Same words elsewhere in the text do not count once both are placed.
    target = Target("加强法治宣传教育", ((40, 48),))
    assert match([target], [Candidate(spans=((0, 8),), texts=("加强法治宣传教育",))]) == []


def test_similarity_fallback_when_spans_are_absent() -> None:
    target = Target("行政执法监督的力度广度深度不够")
    item = Candidate(texts=("行政执法监督的力度广度深度不够，部门间协同协作还需进一步增强",))
    (pair,) = match([target], [item])
    assert pair.how == "similarity"
    # A short title inside a long quote is not the quote.
    assert similarity("行政执法监督的力度广度深度不够", ["行政执法"]) < 85


def test_assign_handles_more_rows_than_columns() -> None:
    weights = [[1.0], [3.0], [2.0]]
    assert assign(weights) == [(1, 0)]
