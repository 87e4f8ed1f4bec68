"""The debias demo's data: ParaDetox split by source sentence, and the judge's texts."""

from __future__ import annotations

import json

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.text import text_key
from synthpack.formats.pairs import split_by_source
from synthpack.prepare.paradetox import (
    JUDGE_EVAL,
    JUDGE_TRAIN,
    SFT_PAIRS,
    TEST_TEXTS,
    PrepareDebiasSettings,
    find_debias_data,
    run_prepare_debias,
)


def _rows(*pairs):
    return [{"line": n, "text": t, "rewrite": r} for n, (t, r) in enumerate(pairs, 2)]


def test_split_keeps_every_source_sentence_on_one_side():
    rows = _rows(*[(f"toxic {k}", f"calm {k} {v}") for k in range(20) for v in range(3)])
    rows += _rows(("Toxic 3!", "a fourth paraphrase"))  # the same source, spelled otherwise
    kept, held, crossing = split_by_source(rows, seed=4, count=5)
    sources = lambda part: {text_key(r["text"]) for r in part}  # noqa: E731
    assert len(sources(held)) == 5 and len(sources(kept)) == 15
    assert not sources(kept) & sources(held)
    assert len(kept) + len(held) + len(crossing) == len(rows)  # counts add up
    assert all(len([r for r in held if text_key(r["text"]) == s]) in (3, 4) for s in sources(held))
    with pytest.raises(SynthpackError, match="30 source texts to hold out, 20 exist"):
        split_by_source(rows, seed=0, count=30)


def test_a_rewrite_equal_to_a_held_out_text_does_not_cross():
    rows = _rows(("you idiot", "you are wrong"), ("shut up idiot", "you are wrong"))
    kept, held, crossing = split_by_source(rows, seed=0, count=1)
    assert len(held) == 1 and kept == [] and len(crossing) == 1
    assert crossing[0]["reason"] == "crosses_split"


def test_prepare_splits_the_shipped_subset_and_the_judge_never_sees_a_test_text(tmp_path):
    data = find_debias_data(tmp_path / "no-data-here")  # a fresh clone: the shipped subset
    assert data.pairs.name == "paradetox_2400.tsv"
    settings = PrepareDebiasSettings(data.pairs, 500, 300, seed=1, model=tmp_path)
    report = run_prepare_debias(settings, tmp_path / "data")
    read = lambda name: [json.loads(x) for x in (tmp_path / "data" / name).open()]  # noqa: E731
    test, sft, judge = read(TEST_TEXTS), read(SFT_PAIRS), read(JUDGE_TRAIN)
    assert report["test_sources"] == len(test) == 300
    counts = ("pairs_dropped_as_copies", "pairs_crossing_split", "pairs_train", "pairs_test",
              "pairs_unused")  # fmt: skip
    assert report["pairs_read"] == sum(report[k] for k in counts) == 4005  # counts add up
    assert report["pairs_train"] == len(sft)
    assert report["train_sources"] == len({text_key(r["toxic"]) for r in sft}) == 500
    held = {text_key(t) for r in test for t in (r["original"], *r["references"])}
    assert not held & {text_key(r[f]) for r in sft for f in ("toxic", "neutral")}
    assert not held & {text_key(r["text"]) for r in judge}
    assert {r["label"] for r in judge} == {0, 1}
    assert all(text_key(r["toxic"]) != text_key(r["neutral"]) for r in sft)  # no copies
    gold = read(JUDGE_EVAL)  # each held-out toxic sentence against its first paraphrase
    assert len(gold) == 600 and sum(r["label"] for r in gold) == 300
    assert (tmp_path / "data" / TEST_TEXTS).stat().st_mode & 0o777 == 0o600


def test_a_bad_pairs_file_is_named_with_its_line_and_field(tmp_path):
    bad = tmp_path / "pairs.tsv"
    bad.write_text("toxic\tneutral1\tneutral3\nyou idiot\tyou are wrong\t\n")
    settings = PrepareDebiasSettings(bad, 1, 1, model=tmp_path)
    with pytest.raises(SynthpackError, match=r"pairs.tsv:2: neutral2: missing column"):
        run_prepare_debias(settings, tmp_path / "data")
    empty = tmp_path / "empty.tsv"
    empty.write_text("toxic\tneutral1\tneutral2\tneutral3\n")
    with pytest.raises(SynthpackError, match="empty.tsv: empty file"):
        run_prepare_debias(PrepareDebiasSettings(empty, 1, 1, model=tmp_path), tmp_path / "d")
