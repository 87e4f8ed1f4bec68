"""Parse the numbered lists that models really write.

Handles `1.`, `1)`, `1:`, `1 -`, `**1.**`, `#1`, `1、`, `１．`, Chinese numerals (`一、`),
Roman numerals (`I.`, `IV)`), quoted entries, entries that span lines, preambles and closing
remarks, odd numbering such as `1.1.11 text`, several entries on one line (in linear time, so
a megabyte-long line is no slower than many short ones), and a last entry cut off by the token
limit. Control and format characters are removed first (`visible_text`), so a zero-width space
before a number hides nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synthpack.common.text import visible_text

_CJK_DIGITS = "〇零一二三四五六七八九十百"
# A numbered entry at the start of a line: optional bullet/markdown, the number (Arabic digits
# of any script, Chinese numerals, or Roman numerals), a separator, optional extra number
# groups (SmolLM2 writes "1.1.11 ..."), then the text.
_ENTRY = re.compile(
    rf"""^\s*(?:[-*•>]\s+)?(?:\*\*|__)?\s*(?:\#\s*|(?i:entry|item)\s+)?
        (?:(?P<num>\d{{1,3}})|(?P<cjk>[{_CJK_DIGITS}]{{1,4}})|(?P<roman>[IVX]{{1,6}}|[ivx]{{1,6}})(?=[.)]))
        (?:\s*[.):\]、．）：]|\s+[-–—])
        (?:\s?(?:\d+[.)])+\d*)?
        \s*(?:\*\*|__)?\s*(?P<text>.*)$""",
    re.VERBOSE,
)
# Lettered items, "A)" or "(b)", which small models switch to mid-list.
_LETTERED = re.compile(r"^\s*\(?(?P<num>[A-Za-z])\)\s+(?P<text>\S.*)$")
_BULLET = re.compile(r"^\s*[-*•]\s+(?P<text>\S.*)$")
_QUOTE_PAIRS = {'"': '"', "“": "”", "'": "'", "«": "»", "‘": "’"}
_TERMINAL = tuple(".!?…\"”’')»*")


@dataclass
class Parsed:
    """What a generation contained: the entries, and the text around them."""

    entries: list[str] = field(default_factory=list)
    preamble: str = ""
    trailer: str = ""
    truncated: str | None = None  # the last entry, dropped because the output was cut off


def clean_entry(text: str) -> str:
    """Strip markdown emphasis, wrapping quotes and stray spaces from one entry."""
    text = " ".join(text.split())
    text = re.sub(r"^(\*\*|__)(.*?)(\*\*|__)$", r"\2", text).strip()
    text = text.strip("*_ ").strip()
    while len(text) >= 2 and text[0] in _QUOTE_PAIRS and text[-1] == _QUOTE_PAIRS[text[0]]:
        text = text[1:-1].strip()
    if text[:1] in _QUOTE_PAIRS and text.count(text[0]) == 1 and text[0] not in "'’":
        text = text[1:].strip()  # an opening quote whose closing one was lost
    return text


_INLINE_NUMBER = re.compile(r"(?<=\S)\s+(\d{1,6})[.)]\s+(?=\S)")


def _split_inline(number: int | None, text: str) -> list[str]:
    """Split "a 2. b 3. c" into consecutive entries when a model put several on one line.

    One left-to-right scan: only the next number in sequence starts a new entry.
    """
    if number is None:  # Chinese or Roman numbering: inline runs are not numbered that way
        return [text]
    parts, start = [], 0
    for match in _INLINE_NUMBER.finditer(text):
        if int(match.group(1)) == number + 1:
            parts.append(text[start : match.start()])
            start, number = match.end(), number + 1
    parts.append(text[start:])
    return parts


def _looks_cut(entries: list[str]) -> bool:
    """Guess truncation when the generator did not say: the last entry lacks the closing
    punctuation that most other entries have."""
    if len(entries) < 3:
        return False
    ended = sum(e.endswith(_TERMINAL) for e in entries[:-1])
    return ended >= 0.7 * (len(entries) - 1) and not entries[-1].endswith(_TERMINAL)


def parse_numbered(text: str, truncated: bool | None = None) -> Parsed:
    """Split a generation into its entries.

    Args:
        text: the raw model output.
        truncated: True when generation hit its token limit (the last entry is dropped), False
            when it stopped by itself, None when unknown (then guessed, see `_looks_cut`).
    """
    lines = visible_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[list[str]] = []  # each numbered entry with its continuation lines
    preamble: list[str] = []
    pending_blank = False
    trailer: list[str] = []
    for line in lines:
        match = _ENTRY.match(line) or (_LETTERED.match(line) if blocks else None)
        if match and (match.group("text").strip() or not blocks):
            if blocks and trailer:
                blocks[-1].extend(trailer)  # a paragraph of the previous entry, not a remark
            number = match.groupdict().get("num")
            number = int(number) if number and number.isdigit() else None
            blocks.extend([t] for t in _split_inline(number, match.group("text")))
            trailer, pending_blank = [], False
        elif not line.strip():
            pending_blank = bool(blocks)
        elif not blocks:
            preamble.append(line.strip())
        elif pending_blank or trailer:
            trailer.append(
                line.strip()
            )  # text after a gap: a closing remark unless an entry follows
        else:
            blocks[-1].append(line.strip())
    if not blocks:  # no numbers at all: fall back to a bulleted list
        bullets = [m.group("text") for m in map(_BULLET.match, lines) if m]
        if len(bullets) >= 2:
            blocks = [[b] for b in bullets]
            preamble, trailer = [], []
    entries = [clean_entry(" ".join(block)) for block in blocks]
    entries = [e for e in entries if e]
    parsed = Parsed(entries=entries, preamble=" ".join(preamble), trailer=" ".join(trailer))
    cut = truncated if truncated is not None else _looks_cut(entries)
    if cut and entries and not parsed.trailer:
        parsed.truncated = entries.pop()
    return parsed
