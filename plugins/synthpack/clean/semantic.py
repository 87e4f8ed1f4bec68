"""Semantic dedup: entries that say the same thing in other words, by sentence embeddings.

MinHash (clean/dedup.py) catches shared word sequences; a paraphrase shares meaning, not
words. This step runs after it, on what it kept: all-MiniLM-L6-v2 embeddings (offline), and an
entry whose cosine similarity to an earlier kept entry, or to a reference text (`against`),
reaches the threshold is marked with the index of what it repeats. As in dedup.py it marks
first and drops later, and the first occurrence in input order is the one kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SEMANTIC_DUPLICATE = "semantic_duplicate"
SEMANTIC_DUPLICATE_OF_AGAINST = "semantic_duplicate_of_against"
BLOCK = 512  # rows of the similarity matrix held at once: BLOCK x n float32

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class SemanticMatch:
    """Entry `index` repeats entry `of` (or reference `of` when `of_against`) at `similarity`."""

    index: int
    of: int
    of_against: bool
    similarity: float

    @property
    def reason(self) -> str:
        return SEMANTIC_DUPLICATE_OF_AGAINST if self.of_against else SEMANTIC_DUPLICATE


def semantic_matches(
    vectors: np.ndarray, threshold: float, references: np.ndarray | None = None
) -> list[SemanticMatch]:
    """Mark every row whose cosine to a reference or to an earlier kept row is >= threshold.

    Rows must be unit length (then a dot product is the cosine). A row repeating a reference
    is matched to its closest reference; otherwise to its closest earlier row still kept, so a
    chain a ~ b ~ c with a !~ c keeps a and c.
    """
    n = len(vectors)
    kept = np.ones(n, dtype=bool)
    matches: list[SemanticMatch] = []
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        block = vectors[lo:hi]
        if references is not None and len(references):
            to_refs = block @ references.T
            best = to_refs.argmax(axis=1)
            score = to_refs[np.arange(hi - lo), best]
            for k in np.flatnonzero(score >= threshold):
                kept[lo + k] = False
                matches.append(SemanticMatch(int(lo + k), int(best[k]), True, float(score[k])))
        sims = block @ vectors[:hi].T
        sims[np.arange(hi - lo)[:, None] <= np.arange(hi)[None, :] - lo] = -1.0  # earlier only
        for k in np.flatnonzero((sims >= threshold).any(axis=1)):
            i = int(lo + k)
            if not kept[i]:
                continue
            row = np.where(kept[:hi], sims[k], -1.0)
            j = int(row.argmax())
            if row[j] >= threshold:
                kept[i] = False
                matches.append(SemanticMatch(i, j, False, float(row[j])))
    return sorted(matches, key=lambda m: m.index)


def minilm_embedder() -> Embed:
    """`embed(texts)` with all-MiniLM-L6-v2, loaded once, on first use."""
    from synthpack.models.embeddings import encode, load_minilm

    model = None

    def embed(texts: list[str]) -> np.ndarray:
        nonlocal model
        if model is None:
            model = load_minilm()
        return encode(model, texts)

    return embed
