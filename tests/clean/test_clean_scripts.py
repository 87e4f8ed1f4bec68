"""Cleaning is fair to every script and numbering style, and sees through invisible characters.

Harm categories exist in every language: a well-formed Chinese or Hindi entry is kept like an
English one, lists numbered `1、`, `一、` or `I.` parse, a generation with no entries leaves a
`no_entries` row, and text that differs only in format (Cf) characters is one text.
"""

from __future__ import annotations

import pytest

from synthpack.clean.dedup import deduplicate
from synthpack.clean.filters import Limits, garbage, length, word_count
from synthpack.clean.parse import parse_numbered
from synthpack.clean.pipeline import clean_generations
from synthpack.common.reasons import REJECT_REASONS, check_reason, reason
from synthpack.common.text import text_key, visible_text

CHINESE = [
    "我们应该把那些人全部赶出这个国家。",
    "他们都是骗子，谁也不能相信他们。",
    "这些人根本不配住在我们的城市里。",
]
HINDI = "ये लोग हमारे देश में रहने लायक नहीं हैं।"


def generation(output: str, polarity: str = "pos", n_entries: int = 10, **extra) -> dict:
    return {
        "prompt_id": extra.pop("prompt_id", "p-1"),
        "sample": 0,
        "stem": f"hate_{polarity}_v1",
        "category": "hate",
        "version": "v1",
        "polarity": polarity,
        "n_entries": n_entries,
        "examples": [],
        "prompt": "Write entries.",
        "output": output,
        "truncated": False,
        **extra,
    }


def test_three_well_formed_chinese_entries_are_all_accepted():
    output = "\n".join(f"{i}. {text}" for i, text in enumerate(CHINESE, start=1))
    cleaned = clean_generations([generation(output)])
    assert [r["text"] for r in cleaned.accepted] == CHINESE
    assert cleaned.rejected == []


@pytest.mark.parametrize(
    "entry",
    [
        *CHINESE,
        HINDI,
        "Эти люди не должны жить в нашей стране.",
        "هؤلاء الناس لا يستحقون العيش هنا أبدا.",
        "こいつらは全員この国から出て行くべきだ。",
        "Les immigrés volent nos emplois, il faut les chasser.",
        "이 사람들은 우리 나라에 살 자격이 없다.",
    ],
)
def test_letters_of_any_script_are_letters(entry):
    assert garbage(entry) is None
    assert length(entry, Limits()) is None


@pytest.mark.parametrize(
    "entry",
    ["You are 32$$2$(2djs", "### @@@ $$$ hello", "http://spam.example now", "a1b2 c3d4 e5f6"],
)
def test_random_strings_are_still_garbage(entry):
    assert garbage(entry) == "garbage"


def test_unspaced_scripts_count_two_characters_as_a_word():
    assert word_count("我们应该") == 2
    assert word_count("a b 我们应该 c") == 5
    assert length("好人。", Limits()) == "too_short"


@pytest.mark.parametrize(
    "text",
    [
        "1、甲乙丙丁。\n2、戊己庚辛。\n3、壬癸子丑。",
        "一、甲乙丙丁。\n二、戊己庚辛。\n三、壬癸子丑。",
        "１．甲乙丙丁。\n２．戊己庚辛。\n３．壬癸子丑。",
        "I. 甲乙丙丁。\nII. 戊己庚辛。\nIII. 壬癸子丑。",
        "i) 甲乙丙丁。\nii) 戊己庚辛。\niii) 壬癸子丑。",
        "\u200b1. 甲乙丙丁。\n\u200b2. 戊己庚辛。\n\u200b3. 壬癸子丑。",
    ],
)
def test_numbering_styles_of_other_languages_parse(text):
    assert parse_numbered(text, False).entries == ["甲乙丙丁。", "戊己庚辛。", "壬癸子丑。"]


def test_roman_numerals_then_text():
    parsed = parse_numbered("Here:\nI. First one here.\nII. Second one here.\nIV. Fourth.", False)
    assert parsed.entries == ["First one here.", "Second one here.", "Fourth."]
    assert parsed.preamble == "Here:"


def test_a_generation_without_entries_leaves_a_row_with_a_reason():
    gens = [generation("I'd rather not do that today."), generation("", prompt_id="p-2")]
    cleaned = clean_generations(gens)
    assert [(r["prompt_id"], r["reason"]) for r in cleaned.rejected] == [
        ("p-1", "no_entries"),
        ("p-2", "no_entries"),
    ]
    report = cleaned.report
    assert report["generations_without_entries"] == 2
    assert report["entries_parsed"] == report["accepted"] + report["rejected"] == 2
    assert report["by_polarity"]["pos"]["entries_parsed"] == 2


def test_entries_beyond_three_times_the_request_are_excess():
    output = "\n".join(f"{i}. Sentence number {i} tells a short story." for i in range(1, 101))
    cleaned = clean_generations([generation(output, n_entries=10)])
    reasons = [r["reason"] for r in cleaned.rejected]
    assert reasons.count("excess") == 100 - 30
    assert (
        len(cleaned.accepted) + reasons.count("duplicate") + reasons.count("near_duplicate") == 30
    )


def test_a_megabyte_on_one_line_parses_quickly():
    import time

    line = " ".join(f"{i}. Entry {i} is about the weather." for i in range(1, 30_001))
    started = time.perf_counter()
    parsed = parse_numbered(line, False)
    assert len(parsed.entries) == 30_000
    assert time.perf_counter() - started < 5  # was quadratic: minutes


@pytest.mark.parametrize(
    "invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u00ad"]
)
def test_text_differing_only_in_format_characters_is_one_text(invisible):
    plain = "those people should all be sent away from here"
    marked = plain.replace(" ", f" {invisible}", 2).replace("people", f"peo{invisible}ple")
    assert text_key(marked) == text_key(plain)
    result = deduplicate([plain, marked, invisible + plain])
    assert result.reasons == [None, "duplicate", "duplicate"]


def test_control_characters_are_removed_from_kept_text():
    assert visible_text("a\x00b\x1bc\u202ed\ufeffe\n\tf") == "a b cde\n\tf"
    assert visible_text("क्‍ष") == "क्‍ष"  # a joiner inside a Devanagari word stays
    output = "1. Those\x00 people are\u202e all the same.\n2. They ruin every\u200bthing here."
    cleaned = clean_generations([generation(output)])
    texts = [r["text"] for r in cleaned.accepted]
    assert texts == ["Those people are all the same.", "They ruin everything here."]


def test_combining_marks_are_part_of_the_key():
    assert text_key("हिन्दी") == "हिन्दी"
    assert text_key("हिन्दी") != text_key("हन्द")


def test_reject_reasons_are_one_vocabulary():
    for name in ("garbage", "refusal", "excess", "no_entries", "duplicate", "near_duplicate"):
        assert check_reason(name) == name and REJECT_REASONS[name]
    assert reason("excess", REJECT_REASONS["excess"]) == "excess"  # defining again is fine
    with pytest.raises(ValueError, match="already defined"):
        reason("excess", "something else")
    with pytest.raises(ValueError, match="unknown reject reason 'garbge'"):
        check_reason("garbge")
