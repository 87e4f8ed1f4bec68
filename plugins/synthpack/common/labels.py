"""The one vocabulary of class labels and the one "same text" key.

Seeds, prompts, generations, labelled data and `augment` all read labels through here, so a
spelling accepted in one place is accepted everywhere, and two texts are "the same" (for
deduplication, for leaks across a split, for overlap with an evaluation set) by one rule.
"""

from __future__ import annotations

import re
import unicodedata

POSITIVE = "pos"  # harmful: the class the synthesis prompts ask for
NEGATIVE = "neg"  # harmless
POLARITIES = (POSITIVE, NEGATIVE)
LABEL = {POSITIVE: 1, NEGATIVE: 0}  # the 0/1 labels classifiers train on (1 = harmful)

# Spellings users write, compared case-insensitively after stripping.
POSITIVE_WORDS = frozenset(
    {"1", "pos", "positive", "harmful", "toxic", "hate", "unsafe", "yes", "true"}
)
NEGATIVE_WORDS = frozenset(
    {
        "0",
        "neg",
        "negative",
        "harmless",
        "benign",
        "neutral",
        "normal",
        "non-toxic",
        "nontoxic",
        "safe",
        "no",
        "false",
    }
)


def polarity_of(value) -> str | None:
    """ "pos" / "neg" for a known label spelling (words, 0/1 numbers, booleans), else None."""
    if isinstance(value, bool):
        return POSITIVE if value else NEGATIVE
    if isinstance(value, (int, float)):
        return {1: POSITIVE, 0: NEGATIVE}.get(value) if value in (0, 1) else None
    word = str(value).strip().casefold()
    if word in POSITIVE_WORDS:
        return POSITIVE
    if word in NEGATIVE_WORDS:
        return NEGATIVE
    return None


def label_of(value) -> int | None:
    """1 (harmful) / 0 (harmless) for a known label spelling, else None."""
    polarity = polarity_of(value)
    return None if polarity is None else LABEL[polarity]


def unknown_label(value) -> str:
    """The message for a value that is not a label: what it was and what would do."""
    return (
        f"unknown label {value!r}. Available: harmful: {', '.join(sorted(POSITIVE_WORDS))}; "
        f"harmless: {', '.join(sorted(NEGATIVE_WORDS))}"
    )


_NON_WORD = re.compile(r"[^\w\s]+")


def text_key(text: str) -> str:
    """Canonical form of a text for "is it the same text?": Unicode NFKC, case-folded,
    punctuation dropped, single spaces."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())
