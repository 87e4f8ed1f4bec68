"""The one vocabulary (polarity, label, version, reject reason) and the one "same text" key.

Seeds, prompts, predictions, labelled data and `augment` all read fixed-vocabulary fields
through here, so a spelling accepted in one place is accepted everywhere and an unknown one is
an error that lists what would do (never a silent default). Two texts are "the same" (for
deduplication, for leaks across a split, for overlap with an evaluation set) by one rule.
"""

from __future__ import annotations

from synthpack.common.problems import shown

POSITIVE = "pos"  # harmful: the class the synthesis prompts ask for
NEGATIVE = "neg"  # harmless
POLARITIES = (POSITIVE, NEGATIVE)
LABEL = {POSITIVE: 1, NEGATIVE: 0}  # the 0/1 labels classifiers train on (1 = harmful)

# Spellings users write, compared case-insensitively after stripping.
POSITIVE_WORDS = frozenset(
    {"1", "pos", "positive", "harmful", "toxic", "hate", "unsafe", "offensive", "yes", "true"}
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
        "non_toxic",
        "nontoxic",
        "not toxic",
        "non-harmful",
        "not harmful",
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
    """The message for a value that is not a label: what it was (a long one, likely a text of
    swapped columns, is described, not shown) and what would do."""
    return (
        f"unknown label {shown(value)}. Available: harmful: {', '.join(sorted(POSITIVE_WORDS))}; "
        f"harmless: {', '.join(sorted(NEGATIVE_WORDS))}"
    )


def label_problem(value) -> tuple[str | None, str | None]:
    """(polarity, None) for a known label spelling, (None, message) otherwise: the one check
    every reader of a `polarity` or `label` field makes."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, "missing"
    if not isinstance(value, (str, int, float, bool)):
        return None, f"expected a label word or 0/1, got a JSON {type(value).__name__}"
    polarity = polarity_of(value)
    return (polarity, None) if polarity else (None, unknown_label(value))


def version_of(value, available: list[str]) -> str | None:
    """The template version a spelling names (`v2`, `V2`, `2`), if it is one of `available`."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    word = str(value).strip().casefold()
    word = f"v{word}" if word.isdigit() else word
    return word if word in available else None


# ---------------------------------------------------------------- reject reasons


# ---------------------------------------------------------------- text
