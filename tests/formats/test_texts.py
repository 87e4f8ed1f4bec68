"""Seed readers: every format, one-class files, duplicates, and errors naming file/line/field."""

from __future__ import annotations

import json

import pytest
from conftest import shared_data

from synthpack.common.errors import SynthpackError
from synthpack.common.text import text_key
from synthpack.formats.texts import dedupe, read_seed_file, read_seeds


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_the_four_formats_give_the_same_rows(tmp_path):
    rows = [("you people ruin everything", "1"), ("the ferry leaves at noon", "0")]
    jsonl = write(
        tmp_path / "s.jsonl",
        "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows),
    )
    as_json = write(tmp_path / "s.json", json.dumps([{"text": t, "label": lab} for t, lab in rows]))
    csv = write(
        tmp_path / "s.csv",
        'text,label\n"you people ruin everything",toxic\nthe ferry leaves at noon,neutral\n',
    )
    tsv = write(
        tmp_path / "s.tsv",
        "label\ttext\npos\tyou people ruin everything\nneg\tthe ferry leaves at noon\n",
    )
    for path in (jsonl, as_json, csv, tsv):
        got = [(r.text, r.label) for r in read_seed_file(path)]
        assert got == [("you people ruin everything", "pos"), ("the ferry leaves at noon", "neg")]
    txt = write(tmp_path / "pos.txt", "first line\n\n  second   line  \r\n")
    got = read_seed_file(txt, "pos")
    assert [(r.text, r.label, r.line) for r in got] == [
        ("first line", "pos", 1),
        ("second line", "pos", 3),
    ]


def test_a_one_class_file_needs_no_label_column(tmp_path):
    path = write(tmp_path / "neg.csv", "text\nhello there\n")
    assert [r.label for r in read_seed_file(path, "neg")] == ["neg"]
    with pytest.raises(SynthpackError, match=r"neg\.csv:1: label: missing column"):
        read_seed_file(path)


def test_missing_columns_empty_files_and_bad_rows_name_file_line_and_field(tmp_path):
    no_text = write(tmp_path / "a.csv", "body,label\nhi,1\n")
    with pytest.raises(
        SynthpackError,
        match=r"a\.csv:1: text: missing column "
        r"\(columns: body, label\)",
    ):
        read_seed_file(no_text)
    for name, text in (("e.csv", ""), ("e.jsonl", "\n\n"), ("e.txt", "  \n")):
        with pytest.raises(SynthpackError, match=rf"{name}: empty file"):
            read_seed_file(write(tmp_path / name, text), "pos")
    bad = write(
        tmp_path / "b.jsonl",
        '{"text": "ok", "label": 1}\n{"text": "", "label": 0}\n'
        '{"label": 1}\n{"text": "x", "label": "maybe"}\nnot json\n',
    )
    with pytest.raises(SynthpackError) as err:
        read_seed_file(bad)
    message = err.value.message
    assert "b.jsonl: 4 problem(s) in 4 row(s)" in message  # every problem at once
    assert "b.jsonl:2: text: empty or not a string" in message
    assert "b.jsonl:3: text: missing (fields: label)" in message
    assert "b.jsonl:4: label: unknown label 'maybe'" in message
    assert "b.jsonl:5: not valid JSON" in message
    with pytest.raises(SynthpackError, match=r"x\.txt: a \.txt seed file has no label column"):
        read_seed_file(write(tmp_path / "x.txt", "hi\n"))
    with pytest.raises(SynthpackError, match=r"nowhere\.csv: seed file not found"):
        read_seed_file(tmp_path / "nowhere.csv")
    with pytest.raises(SynthpackError, match=r"no file matches this pattern"):
        read_seeds(positive=[str(tmp_path / "*.nothing")])


def test_dedupe_drops_repeats_and_conflicts_and_counts_add_up(tmp_path):
    pos = write(tmp_path / "pos.txt", "Same text.\nsame   TEXT\nonly positive\nboth sides\n")
    neg = write(tmp_path / "neg.txt", "both sides!\nonly negative\n")
    rows = read_seeds(positive=[pos], negative=[neg])
    kept, rejects = dedupe(rows)
    assert [r.text for r in kept] == ["Same text.", "only positive", "only negative"]
    reasons = sorted(r["reason"].split(":")[0].split(" of ")[0] for r in rejects)
    assert reasons == ["duplicate", "label_conflict", "label_conflict"]
    assert len(kept) + len(rejects) == len(rows)
    assert text_key("  Same TEXT. ") == text_key("same text")


def test_toxigen_demonstrations_read_as_hate_and_neutral_seeds():
    root = shared_data("toxigen", "demonstrations")
    rows = read_seeds(positive=[f"{root}/*/hate_*.txt"], negative=[f"{root}/*/neutral_*.txt"])
    kept, rejects = dedupe(rows)
    assert len(kept) + len(rejects) == len(rows)
    assert {r.label for r in kept} == {"pos", "neg"}
    # neutral_muslim.txt and neutral_muslim_sentences.txt are byte-identical (SOURCE.md).
    assert any(
        "neutral_muslim" in r["source"] and r["reason"].startswith("duplicate") for r in rejects
    )
    assert all("\n" not in r.text and r.text == r.text.strip() for r in kept)
