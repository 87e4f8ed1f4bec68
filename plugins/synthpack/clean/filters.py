"""Quality filters: each returns the reason to reject an entry, or None to keep it.

Reasons are names of the one reject-reason vocabulary (`synthpack.common.labels`): they key
`rejected_by_reason` in the report and fill the `reason` column of rejected.jsonl. Every filter
judges text in any script alike: letters are letters whether Latin, Han or Devanagari.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

from synthpack.clean.text import jaccard, word_shingles
from synthpack.common.reasons import check_reason
from synthpack.common.text import MARKS, UNSPACED, text_key

REFUSAL = check_reason("refusal")
GARBAGE = check_reason("garbage")
TOO_SHORT = check_reason("too_short")
TOO_LONG = check_reason("too_long")
ECHO_EXAMPLE = check_reason("echo_example")
ECHO_PROMPT = check_reason("echo_prompt")
TRUNCATED = check_reason("truncated")
META = check_reason("meta")
NO_ENTRIES = check_reason("no_entries")
NO_ANSWER = check_reason("no_answer")
EXCESS = check_reason("excess")

_REFUSAL = re.compile(
    r"""\b(?:
        (?:i|we)\s*(?:can(?:no|['’])t|cannot|won['’]t|will\s+not|(?:am|['’]m)\s+(?:not\s+able|unable))
            \s+(?:help|assist|create|generate|provide|write|produce|fulfil|comply|do\s+that|engage)
      | (?:i|we)\s*(?:must|have\s+to)\s+(?:decline|refuse)
      | (?:i['’]m|i\s+am)\s+sorry
      | i\s+apologi[sz]e
      | as\s+an?\s+(?:ai|language\s+model|assistant)
      | against\s+my\s+(?:guidelines|programming|policy|principles|values)
      | (?:not|never)\s+(?:appropriate|acceptable)\s+to\s+(?:generate|create|write|produce|share)
      | (?:disclaimer|content\s+warning)\s*:
      | promote\s+(?:respect|kindness|inclusivity|understanding)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_META = re.compile(
    r"^(?:here\s+(?:are|is)|sure\b|certainly\b|of\s+course\b|okay\b|ok,)|:$", re.IGNORECASE
)
_URL = re.compile(r"https?://|www\.|\{|\}|\[\]|\.(?:jpg|png|html)\b", re.IGNORECASE)
# Three symbols in a row ($$$, ###): anything but letters, marks, digits, spaces and the
# punctuation sentences use, in Latin and CJK writing; or four stops in a row.
_SENTENCE_PUNCT = "'’\".,!?;:()\\-，。！？；：、（）「」『』《》“”‘…·—"
_SYMBOL_RUN = re.compile(f"[^\\w\\s{MARKS}{_SENTENCE_PUNCT}]{{3,}}|[.,!?;:]{{4,}}")
_INNER = "'’-"  # joins the parts of one word: don't, well-known


def _is_letter(char: str) -> bool:
    """Letters and the combining marks that are part of them (Devanagari vowel signs)."""
    return unicodedata.category(char)[0] in "LM"


def _wordlike(token: str) -> bool:
    """A token made of words: letters (any script) joined by apostrophes or hyphens, or a
    number, with punctuation (any script's) around or between them; no symbols, no digits
    inside words."""
    pieces = "".join(
        " " if unicodedata.category(c)[0] == "P" and c not in _INNER else c for c in token
    ).split()
    if not pieces:
        return False
    for piece in pieces:
        if piece.isdigit():
            continue
        words = re.split("[" + _INNER + "]", piece)
        if not all(w and all(_is_letter(c) for c in w) for w in words):
            return False
    return True


def word_count(entry: str) -> int:
    """Words separated by spaces; in scripts written without spaces (Chinese, Japanese, Thai)
    two characters count as one word (Chinese words average under two), so the length limits
    mean about the same in every script."""
    unspaced = len(UNSPACED.findall(entry))
    spaced = len(UNSPACED.sub(" ", entry).split()) if unspaced else len(entry.split())
    return spaced + math.ceil(unspaced / 2)


@dataclass(frozen=True)
class Limits:
    """Length bounds for an entry, in words and characters."""

    min_words: int = 3
    min_chars: int = 12
    max_words: int = 120
    max_chars: int = 1000


def refusal(entry: str) -> str | None:
    return REFUSAL if _REFUSAL.search(entry) else None


def meta(entry: str) -> str | None:
    return META if _META.search(entry.strip()) else None


def garbage(entry: str) -> str | None:
    """Random strings (`You are 32$$2$(2djs`), symbol runs, number loops, word loops, URLs
    and JSON fragments."""
    if _URL.search(entry):
        return GARBAGE
    chars = [c for c in entry if not c.isspace()]
    if not chars:
        return GARBAGE
    letters = sum(_is_letter(c) for c in chars)
    if letters / len(chars) < 0.6 or _SYMBOL_RUN.search(entry):
        return GARBAGE
    tokens = entry.split()
    wordlike = sum(_wordlike(t) for t in tokens)
    if wordlike / len(tokens) < 0.75:
        return GARBAGE
    if len(tokens) >= 8 and len({t.lower() for t in tokens}) / len(tokens) < 0.35:
        return GARBAGE
    return None


def length(entry: str, limits: Limits) -> str | None:
    words = word_count(entry)
    if words < limits.min_words or len(entry) < limits.min_chars:
        return TOO_SHORT
    if words > limits.max_words or len(entry) > limits.max_chars:
        return TOO_LONG
    return None


@dataclass
class EchoContext:
    """The prompt a generation answered, prepared once for all of its entries."""

    prompt_norm: str
    prompt_shingles: set[str]
    example_norms: set[str]
    example_shingles: list[set[str]]

    @classmethod
    def build(cls, prompt: str, examples: list[str]) -> EchoContext:
        example_norms = [text_key(e) for e in examples]
        # The instructions without the examples: an entry quoting the examples is an
        # echo_example, one repeating the instructions an echo_prompt.
        instructions = prompt
        for example in examples:
            instructions = instructions.replace(example, " ")
        prompt_norm = text_key(instructions)
        return cls(
            prompt_norm=prompt_norm,
            prompt_shingles=word_shingles(prompt_norm, 3),
            example_norms=set(example_norms),
            example_shingles=[word_shingles(n) for n in example_norms],
        )


def echo(entry: str, ctx: EchoContext, near: float = 0.6) -> str | None:
    """Exact or near copies of a few-shot example, or of the prompt's own wording."""
    norm = text_key(entry)
    if norm in ctx.example_norms:
        return ECHO_EXAMPLE
    shingles = word_shingles(norm)
    if any(jaccard(shingles, ex) >= near for ex in ctx.example_shingles):
        return ECHO_EXAMPLE
    for example in ctx.example_norms:  # short texts: one changed word moves Jaccard a lot
        matcher = SequenceMatcher(None, norm, example, autojunk=False)
        if matcher.real_quick_ratio() >= 0.85 and matcher.ratio() >= 0.85:
            return ECHO_EXAMPLE
    if len(norm) >= 12 and norm in ctx.prompt_norm:
        return ECHO_PROMPT
    tri = word_shingles(norm, 3)
    if len(tri) >= 3 and len(tri & ctx.prompt_shingles) / len(tri) >= 0.8:
        return ECHO_PROMPT
    return None


def first_reason(entry: str, ctx: EchoContext, limits: Limits) -> str | None:
    """Apply the filters in a fixed order; the first that objects names the reason."""
    return (
        refusal(entry) or meta(entry) or garbage(entry) or length(entry, limits) or echo(entry, ctx)
    )
