"""Chunk the report along its sections under a token budget.

A chunk never crosses a top-level section, prefers to end where a second-level section ends, and
only splits inside one when that section alone is over budget (then at sentence boundaries).
Each chunk carries its heading path, so a backend knows where its sentences sit.
"""

from __future__ import annotations

from service import tokens
from service.document import Chunk, Outline, SectionKind, Sentence


def _block_key(outline: Outline, sentence: Sentence) -> tuple[int, ...]:
    """Identity of the top- and second-level section holding a sentence."""
    path = outline.path_at(sentence.start)
    return tuple(n.start for n in path[:2])


def _block_keys(outline: Outline, sentences: list[Sentence]) -> list[tuple[int, ...]]:
    """`_block_key` of every sentence in one sweep: sentences and sibling nodes are both in order."""
    keys: list[tuple[int, ...]] = []
    tops = outline.nodes
    i = j = 0
    for s in sentences:
        while i < len(tops) and tops[i].end <= s.start:
            i, j = i + 1, 0
        if i == len(tops) or tops[i].start > s.start:
            keys.append(())
            continue
        kids = tops[i].children
        while j < len(kids) and kids[j].end <= s.start:
            j += 1
        inside = j < len(kids) and kids[j].start <= s.start
        keys.append((tops[i].start, kids[j].start) if inside else (tops[i].start,))
    return keys


def make_chunks(
    text: str, outline: Outline, sentences: list[Sentence], *, max_tokens: int = 1500
) -> list[Chunk]:
    # Group sentences into blocks (same top-level + second-level section), in order.
    blocks: list[list[Sentence]] = []
    keys: list[tuple[int, ...]] = []
    for s, key in zip(sentences, _block_keys(outline, sentences), strict=True):
        if blocks and keys[-1] == key:
            blocks[-1].append(s)
        else:
            blocks.append([s])
            keys.append(key)

    chunks: list[Chunk] = []
    current: list[Sentence] = []
    current_tokens = 0
    current_top: int | None = None

    def flush() -> None:
        nonlocal current, current_tokens
        if current:
            path = outline.path_at(current[0].start)
            kind = outline.kind_at(current[0].start)
            # The heading path shared by the whole chunk
            end_path = outline.path_at(current[-1].start)
            shared = [a.title for a, b in zip(path, end_path, strict=False) if a is b and a.title]
            chunks.append(
                Chunk(
                    id=f"c{len(chunks) + 1}",
                    heading_path=shared,
                    kind=kind,
                    sentences=current,
                    tokens=current_tokens,
                )
            )
        current, current_tokens = [], 0

    for key, block in zip(keys, blocks, strict=True):
        top = key[0] if key else None
        block_tokens = [tokens.count(s.text) + 1 for s in block]
        # A lone heading line is kept with the section it opens rather than sent on its own.
        over = current_tokens + sum(block_tokens) > max_tokens and current_tokens > 64
        if current and (top != current_top or over):
            flush()
        current_top = top
        for s, n in zip(block, block_tokens, strict=True):
            if current and current_tokens + n > max_tokens:
                flush()
            current.append(s)
            current_tokens += n
    flush()
    return chunks


def extractable(chunks: list[Chunk]) -> list[Chunk]:
    """Chunks worth sending to an extractor (not the page header or the signature)."""
    return [c for c in chunks if c.kind not in (SectionKind.preamble, SectionKind.closing)]
