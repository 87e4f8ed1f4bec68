"""Text normalisation and shingles shared by the echo filter and the deduplicator."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w\s]+")


def normalize(text: str) -> str:
    """Canonical form for duplicate checks: Unicode NFKC, case-folded, no punctuation,
    single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


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
