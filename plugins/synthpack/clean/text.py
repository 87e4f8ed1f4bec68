"""Word shingles and their Jaccard similarity, shared by the echo filter and the deduplicator.

They work on texts already in canonical form (`synthpack.common.labels.text_key`).
"""

from __future__ import annotations


def word_shingles(norm: str, n: int = 2) -> set[str]:
    """Word n-grams of a normalised text (the words themselves when it is shorter than n)."""
    words = norm.split()
    if len(words) <= n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
