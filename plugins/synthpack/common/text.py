"""The one "same text" key, and the characters nobody reads.

Two texts are "the same" (for deduplication, for leaks across a split, for overlap with an
evaluation set) by one rule, `text_key`; `visible_text` strips control and format characters
before a text is stored."""

from __future__ import annotations

import re
import unicodedata

# The code points the classes below are drawn from, with their Unicode category, found in one
# pass (planes 0-1 and the tag block hold every control, format character and combining mark):
# one pass instead of one per class keeps `import` of the CLI fast.
_SPECIAL = [
    (chr(c), cat)
    for c in (*range(0x20000), *range(0xE0000, 0xE0080))
    if (cat := unicodedata.category(chr(c))) in ("Cc", "Cf") or cat[0] == "M"
]


def char_class(wanted) -> str:
    """A regex character class of the control, format and mark code points for which
    `wanted(char, category)` holds."""
    points = [ord(char) for char, category in _SPECIAL if wanted(char, category)]
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
_CONTROL = re.compile(char_class(lambda c, cat: cat == "Cc" and c not in "\n\t\r"))


_FORMAT = re.compile(char_class(lambda c, cat: cat == "Cf"))


_FORMAT_IN_TEXT = re.compile(char_class(lambda c, cat: cat == "Cf" and c not in "\u200c\u200d"))


def visible_text(text: str) -> str:
    """The text without control and format characters (controls become spaces), so that NUL
    or a bidi override never reaches accepted.jsonl or alpaca.json; newlines and tabs stay."""
    return _FORMAT_IN_TEXT.sub("", _CONTROL.sub(" ", str(text)))


MARKS = char_class(lambda c, cat: cat[0] == "M")[1:-1]  # inside a class


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
