"""The one vocabulary (polarity, label, version, reject reason) and the one "same text" key.

Seeds, prompts, predictions, labelled data and `augment` all read fixed-vocabulary fields
through here, so a spelling accepted in one place is accepted everywhere and an unknown one is
an error that lists what would do (never a silent default). Two texts are "the same" (for
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
    """The message for a value that is not a label: what it was and what would do."""
    return (
        f"unknown label {value!r}. Available: harmful: {', '.join(sorted(POSITIVE_WORDS))}; "
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

# Why an entry was dropped: the `reason` column of rejected.jsonl and the keys of the report's
# `rejected_by_reason`. A step that drops rows for a new reason adds it here, or registers it
# with `reason()`; the report refuses a reason that is in neither place.
REJECT_REASONS: dict[str, str] = {
    "refusal": "the model declined or lectured instead of writing an entry",
    "garbage": "a random string, symbol run, word loop, URL or code fragment",
    "too_short": "fewer words or characters than the limits allow",
    "too_long": "more words or characters than the limits allow",
    "echo_example": "a copy or near copy of one of the prompt's examples",
    "echo_prompt": "repeats the prompt's own instructions",
    "truncated": "the last entry, cut off by the token limit",
    "meta": "the model talking about the task ('Here are 10 entries:')",
    "no_entries": "a generation in which no numbered entry was found",
    "excess": "beyond the cap of one generation (3 x n_entries, at least 30)",
    "duplicate": "the same text (after text_key) as an earlier entry",
    "near_duplicate": "word-bigram Jaccard at or above the threshold with an earlier entry",
    "duplicate_of_against": "the same text as one of the --against texts",
    "near_duplicate_of_against": "a near duplicate of one of the --against texts",
    "semantic_duplicate": "MiniLM cosine similarity at or above --semantic-dedup with an earlier "
    "kept entry (`matched_id` names it)",
    "semantic_duplicate_of_against": "MiniLM cosine similarity at or above --semantic-dedup with "
    "an --against text",
    "label_disagrees": "a classifier trained on real data scores it against its prompt's "
    "polarity (`label_check_score`)",
}


def reason(name: str, meaning: str) -> str:
    """Add a reject reason to the vocabulary (once) and return its name."""
    if REJECT_REASONS.setdefault(name, meaning) != meaning:
        raise ValueError(f"reject reason {name!r} is already defined with another meaning")
    return name


def check_reason(name: str) -> str:
    """A reject reason, or ValueError: a typo must not start a new report column."""
    if name not in REJECT_REASONS:
        raise ValueError(f"unknown reject reason {name!r}; known: {', '.join(REJECT_REASONS)}")
    return name


# ---------------------------------------------------------------- text


def char_class(wanted) -> str:
    """A regex character class of the code points whose Unicode category passes `wanted`
    (planes 0-1 and the tag block: every control, format, punctuation or symbol is there)."""
    points = [c for c in (*range(0x20000), *range(0xE0000, 0xE0080)) if wanted(chr(c))]
    ranges, first = [], points[0]
    for prev, cur in zip(points, points[1:] + [None], strict=True):
        if cur != prev + 1:
            ranges.append(f"{re.escape(chr(first))}-{re.escape(chr(prev))}")
            first = cur
    return "[" + "".join(ranges) + "]"


# Control (Cc) and format (Cf) characters: NUL, escape codes, zero-width spaces and joiners,
# the BOM, bidi overrides. Nobody reads them, and they make equal texts look different.
# Newlines and tabs are layout, not controls; zero-width (non-)joiners carry meaning inside
# Indic and Persian words and emoji, so stored texts keep them (the comparison key does not).
_CONTROL = re.compile(char_class(lambda c: unicodedata.category(c) == "Cc" and c not in "\n\t\r"))
_FORMAT = re.compile(char_class(lambda c: unicodedata.category(c) == "Cf"))
_FORMAT_IN_TEXT = re.compile(
    char_class(lambda c: unicodedata.category(c) == "Cf" and c not in "\u200c\u200d")
)


def visible_text(text: str) -> str:
    """The text without control and format characters (controls become spaces), so that NUL
    or a bidi override never reaches accepted.jsonl or alpaca.json; newlines and tabs stay."""
    return _FORMAT_IN_TEXT.sub("", _CONTROL.sub(" ", str(text)))


MARKS = char_class(lambda c: unicodedata.category(c)[0] == "M")[1:-1]  # inside a class
# Everything but letters, digits, combining marks (Hindi vowel signs) and spaces becomes a
# space: punctuation, symbols, and in ASCII text the control characters too.
_NON_WORD = re.compile("[^\\w\\s" + MARKS + "]+")
# Scripts written without spaces between words: each character is keyed as a word of its own,
# so near-duplicate shingles and echo checks see words there too.
UNSPACED = re.compile(
    "([\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f])"
)


def text_key(text: str) -> str:
    """Canonical form of a text for "is it the same text?": control and format characters
    dropped (a zero-width space changes nothing), Unicode NFKC, case-folded, punctuation and
    symbols dropped, single spaces (and a space between characters of unspaced scripts)."""
    text = str(text)
    if text.isascii():  # the common case, 4x faster: no format characters, NFKC a no-op
        return " ".join(_NON_WORD.sub(" ", text.lower()).split())
    text = _FORMAT.sub("", _CONTROL.sub(" ", text))
    text = _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(UNSPACED.sub(r" \1 ", text).split())
