"""The shared pieces: the label vocabulary and text key, the problems list, tables, plots."""

from __future__ import annotations

import stat

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.labels import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    label_of,
    polarity_of,
    unknown_label,
)
from synthpack.common.problems import Problems, located, names_shown, shown, unknown_name
from synthpack.common.tables import format_table
from synthpack.common.text import text_key


def test_every_spelling_maps_to_one_class_and_nothing_else_does():
    assert not POSITIVE_WORDS & NEGATIVE_WORDS
    for word in POSITIVE_WORDS:
        assert polarity_of(word) == "pos" and polarity_of(f" {word.upper()} ") == "pos"
        assert label_of(word) == 1
    for word in NEGATIVE_WORDS:
        assert polarity_of(word) == "neg" and label_of(word) == 0
    assert [polarity_of(v) for v in (True, False, 1, 0, 1.0, 0.0)] == ["pos", "neg"] * 3
    for value in ("maybe", "", 2, 0.5, None, "toxic-ish"):
        assert polarity_of(value) is None and label_of(value) is None
    message = unknown_label("maybe")
    assert message.startswith("unknown label 'maybe'. Available: harmful: 1, harmful")
    assert "harmless: 0, benign" in message


def test_the_text_key_ignores_case_spacing_punctuation_and_unicode_forms():
    same = ["Same text.", "  same   TEXT ", "SAME, text!", "Ｓａｍｅ ｔｅｘｔ"]  # full-width forms
    assert {text_key(t) for t in same} == {"same text"}
    assert text_key("same text") != text_key("same texts")
    assert text_key("!!!") == ""


def test_problems_are_listed_together_with_file_line_and_field(tmp_path):
    path = tmp_path / "rows.jsonl"
    problems = Problems(path)
    assert not problems
    problems.raise_if_any()  # nothing to report
    problems.add("unknown label 'maybe'", 3, "label")
    problems.add("not valid JSON", 4)
    problems.add("missing", field="output", record=2)
    assert len(problems) == 3
    with pytest.raises(SynthpackError) as err:
        problems.raise_if_any()
    assert err.value.message == (
        f"{path}: 3 problem(s) in 3 row(s):\n"
        f"  {path}:3: label: unknown label 'maybe'\n"
        f"  {path}:4: not valid JSON\n"
        f"  {path}, record 2: output: missing"
    )
    assert located(path, "empty file") == f"{path}: empty file"


def test_a_long_list_of_problems_is_cut_after_twenty():
    problems = Problems("big.csv")
    for line in range(1, 31):
        problems.add("empty", line, "text")
    summary = problems.summary()
    assert summary.startswith("big.csv: 30 problem(s) in 30 row(s):\n  big.csv:1: text: empty")
    assert "big.csv:20: text: empty" in summary and "big.csv:21:" not in summary
    assert summary.endswith("... and 10 more")


def test_the_header_counts_problems_and_the_rows_they_are_in():
    one_record = Problems("p.jsonl")
    one_record.add("unknown label 'maybe'", 2, "polarity")
    one_record.add("missing", 2, "n_entries")
    assert one_record.summary().startswith("p.jsonl: 2 problem(s) in 1 row(s):\n")
    one_record.add("not valid JSON at line 9 (Expecting value)")  # no line: the whole file
    assert one_record.count() == "3 problem(s): 2 in 1 row(s), 1 about the whole file"
    config = Problems("c.yaml", noun="bad score(s)")
    config.add("must be a number", field="lr")
    assert config.count() == "1 bad score(s)"  # nothing named a line: no row count


@pytest.mark.parametrize(
    "value, expected",
    [
        ("maybe", "'maybe'"),
        ("not harmful", "'not harmful'"),
        (2, "2"),
        (True, "True"),
        ("", "''"),
        ("you lot are all the same", "<a text of 24 characters>"),  # 6 words: a sentence
        ("x" * 25, "<a text of 25 characters>"),
        ("two\nlines", "<a text of 9 characters>"),
        ("\x1b[31mred", "<a text of 8 characters>"),  # a terminal escape is never printed
        (["pos"], "<a list>"),
        (None, "<nothing (missing or null)>"),
    ],
)
def test_a_value_is_shown_only_when_short_else_described(value, expected):
    assert shown(value) == expected


def test_field_names_are_listed_only_when_they_look_like_names():
    assert names_shown(["text", "label"]) == "fields: text, label"
    assert names_shown(["text", "label"], header=True) == "columns: text, label"
    first_row = ["a whole sentence from the first row of a file", "pos"]
    assert names_shown(first_row, header=True) == (
        "the first row does not look like a header: 2 columns, some long; "
        "is the header row missing?"
    )
    assert names_shown(first_row) == "2 field(s), not shown: some look like texts, not names"


def test_unknown_names_suggest_the_closest_and_list_what_exists():
    err = unknown_name("category", "hat", ["hate", "sexual"])
    assert err.message == "Unknown category 'hat'. Did you mean: hate? Available: hate, sexual"


def test_tables_align_numbers_right_and_text_left():
    table = format_table(["run", "F1", "note"], [["real", "0.654", "baseline"], ["r+s", "1", ""]])
    assert table.splitlines() == [
        "run   F1     note",
        "----  -----  --------",
        "real  0.654  baseline",
        "r+s       1",
    ]


def test_charts_are_written_atomically_and_owner_only(tmp_path):
    from synthpack.common.plots import figure, save_png

    fig, ax = figure(2, 2)
    ax.plot([0, 1], [0, 1])
    path = save_png(fig, tmp_path / "out" / "line.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["line.png"]  # no temporary file left


def test_the_readme_lists_every_accepted_label_spelling():
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = (line.strip() for line in readme.splitlines())
    row = next(line for line in rows if line.startswith("| `polarity`, `label`"))
    harmful, harmless = row.split("|")[2:4]
    for word in POSITIVE_WORDS:
        assert f"`{word}`" in harmful, word
    for word in NEGATIVE_WORDS:
        assert f"`{word}`" in harmless, word
