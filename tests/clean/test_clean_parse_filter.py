"""Parsing and filtering raw generations, on hand-written cases and on real SmolLM2 output."""

from __future__ import annotations

import json

from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from synthpack.clean.filters import EchoContext, Limits, first_reason
from synthpack.clean.parse import parse_numbered


def test_the_numbering_styles_models_write():
    text = (
        "Here are the entries:\n"
        "1. First entry here.\n"
        "2) Second entry\nthat continues on a new line.\n"
        "3 - Third entry here.\n"
        "**4.** Fourth entry here.\n"
        '5. "Fifth, in quotes."\n'
        "6: Sixth entry here.\n"
        "1.1.11 Odd numbering from SmolLM2.\n"
        "\nI hope these help!"
    )
    parsed = parse_numbered(text, truncated=False)
    assert parsed.entries == [
        "First entry here.",
        "Second entry that continues on a new line.",
        "Third entry here.",
        "Fourth entry here.",
        "Fifth, in quotes.",
        "Sixth entry here.",
        "Odd numbering from SmolLM2.",
    ]
    assert parsed.preamble == "Here are the entries:"
    assert parsed.trailer == "I hope these help!"


def test_a_cut_off_last_entry_is_dropped_as_truncated():
    text = (
        "1. One whole entry.\n2. Another whole entry.\n3. And a third one that was cut in the mid"
    )
    assert parse_numbered(text, truncated=True).truncated.startswith("And a third")
    assert parse_numbered(text, truncated=False).truncated is None
    guessed = parse_numbered(text)  # unknown: the missing full stop gives it away
    assert guessed.entries == ["One whole entry.", "Another whole entry."]


def test_inline_lists_double_numbers_and_numbers_inside_entries():
    assert parse_numbered("1. red apples 2. green pears 3. ripe plums").entries == [
        "red apples",
        "green pears",
        "ripe plums",
    ]
    assert parse_numbered("1. 1. Doubled number.\n2. 2. Again.").entries == [
        "Doubled number.",
        "Again.",
    ]
    assert (
        parse_numbered("1. 30 percent of us walk.\n2. Fine.").entries[0] == "30 percent of us walk."
    )


def test_real_smollm2_output_parses_into_the_entries_it_wrote():
    predictions = [
        json.loads(line) for line in (FIXTURES / "smollm2_hate_predictions.jsonl").open()
    ]
    parsed = [parse_numbered(p["predict"], truncated=not p["stopped"]) for p in predictions]
    assert [len(p.entries) for p in parsed] == [0, 0, 10, 10, 10, 11]
    assert (
        parsed[2].entries[0] == "The museum has a new exhibit on the history of early photography."
    )
    assert parsed[2].preamble == "Here are the 10 entries:"
    assert (
        parsed[4].entries[3] == "Gay people should not be allowed to date children"
    )  # quotes removed
    assert parsed[5].entries[2].startswith("A person who uses")  # switched to "A)", "B)", ...
    assert parsed[5].truncated.endswith("to describe someone who")  # hit the token limit mid-entry


def _reason(entry: str, examples=("those people are all lazy",)) -> str | None:
    ctx = EchoContext.build(
        "Write 5 entries. Every entry must be unique and numbered.", list(examples)
    )
    return first_reason(entry, ctx, Limits())


def test_each_filter_names_its_reason():
    assert _reason("You are 32$$2$(2djs") == "garbage"
    assert _reason("1.1.1.1.1.1.1.1.1.1") == "garbage"
    assert _reason("See https://example.com/list.html for more") == "garbage"
    assert _reason("I'm sorry, but I cannot create hateful content.") == "refusal"
    assert _reason("As an AI language model, I have to decline.") == "refusal"
    assert _reason("Here are 10 new entries:") == "meta"
    assert _reason("too short") == "too_short"
    assert _reason(" ".join(["word"] * 60 + ["other"] * 70)) in ("too_long", "garbage")
    assert _reason("Those people are all lazy!") == "echo_example"
    assert _reason("those people are all so lazy") == "echo_example"  # near copy
    assert _reason("Every entry must be unique and numbered.") == "echo_prompt"
    assert _reason("It's 5 o'clock and the café by the river is full.") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.one_of(st.none(), st.booleans()))
def test_parser_and_filters_never_crash(text, truncated):
    parsed = parse_numbered(text, truncated)
    ctx = EchoContext.build(text, parsed.entries[:3])
    for entry in parsed.entries:
        assert entry.strip()
        first_reason(entry, ctx, Limits())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
        max_size=12,
    )
)
def test_numbered_lists_of_arbitrary_text_never_crash(items):
    """Whatever the items hold (newlines, numbers, quotes, markup, controls), every entry is a
    clean piece of the text: non-empty, whitespace collapsed, free of control and format
    characters, and the entries (then the cut-off one) appear in the text in order, without
    overlapping."""
    import re
    import unicodedata

    text = "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    parsed = parse_numbered(text)
    # The text as entries see it: controls become spaces, format characters go (bar the
    # zero-width joiners that shape Indic and Arabic words), whitespace runs become one space.
    visible = "".join(
        " " if unicodedata.category(c) == "Cc" and c not in "\n\t\r" else c
        for c in text
        if unicodedata.category(c) != "Cf" or c in "\u200c\u200d"
    )
    flat, position = " ".join(visible.split()), 0
    pieces = parsed.entries + ([parsed.truncated] if parsed.truncated is not None else [])
    for piece in pieces:
        assert piece and piece == " ".join(piece.split())
        assert not any(unicodedata.category(c) == "Cc" for c in piece)
        assert not any(unicodedata.category(c) == "Cf" for c in piece if c not in "\u200c\u200d")
        found = flat.find(piece, position)
        assert found >= 0, (piece, flat[position:])  # not invented, duplicated or reordered
        position = found + len(piece)
    # One entry at most per line, plus one per inline "N." or "N)" that may start the next.
    lines = visible.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert len(pieces) <= len(lines) + len(re.findall(r"\d[.)]", text))


# Words without digits, newlines, quotes or markup: a numbered list of them has one exact parse.
PLAIN_WORD = st.text(
    alphabet=st.sampled_from("abcxyzAQZ,;éßжЯ我们देश"), min_size=1, max_size=8
).filter(lambda w: any(c.isalpha() for c in w))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(PLAIN_WORD, min_size=1, max_size=6), min_size=1, max_size=12))
def test_a_well_formed_numbered_list_parses_into_exactly_its_items(items):
    lines = [" ".join(words) for words in items]
    text = "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))
    parsed = parse_numbered(text, truncated=False)
    assert parsed.entries == lines
    assert (parsed.preamble, parsed.trailer, parsed.truncated) == ("", "", None)
    cut = parse_numbered(text, truncated=True)  # the generator hit its token limit
    assert (cut.entries, cut.truncated) == (lines[:-1], lines[-1])
