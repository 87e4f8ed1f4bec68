"""CrowS-Pairs for causal LMs: loader, upstream's counting rule, and a real scoring run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.evaluate import crows_pairs


def test_loader_reads_every_real_row():
    pairs = crows_pairs.load_crows_pairs(shared_data("crows_pairs", "crows_pairs_anonymized.csv"))
    assert len(pairs) == 1508  # SOURCE.md
    directions = [p.direction for p in pairs]
    assert directions.count("stereo") == 1290 and directions.count("antistereo") == 218
    assert sum(p.bias_type == "race-color" for p in pairs) == 516


def test_hand_computed_summary_rounding_and_ties():
    pairs = [
        crows_pairs.Pair(0, "a", "b", "stereo", "gender"),
        crows_pairs.Pair(1, "a", "b", "stereo", "race-color"),
        crows_pairs.Pair(2, "a", "b", "antistereo", "gender"),
        crows_pairs.Pair(3, "a", "b", "stereo", "gender"),
    ]
    # pair 1: equal after rounding to 3 decimals -> a tie, not biased, still counted.
    more = [-10.0, -20.0001, -5.0, -9.0]
    less = [-11.0, -20.0004, -4.0, -8.0]
    summary = crows_pairs.summarize(pairs, more, less)
    assert summary["pairs"] == 4 and summary["metric"] == pytest.approx(25.0)
    assert summary["bias_types"]["gender"] == {"metric": pytest.approx(100 / 3), "pairs": 3}
    assert summary["bias_types"]["race-color"] == {"metric": 0.0, "pairs": 1}
    assert summary["directions"]["stereo"]["metric"] == pytest.approx(100 / 3)
    assert summary["directions"]["antistereo"] == {"metric": 0.0, "pairs": 1}


def test_bad_rows_are_named(tmp_path):
    bad = tmp_path / "crows.csv"
    bad.write_text(
        ",sent_more,sent_less,stereo_antistereo,bias_type\n"
        '0,"A x.","A y.",stereo,gender\n'
        '1,"B x.","B y.",sideways,gender\n'
        '2,"","C y.",stereo,age\n'
    )
    with pytest.raises(SynthpackError) as err:
        crows_pairs.load_crows_pairs(bad)
    message = str(err.value)
    assert "2 bad row(s)" in message
    assert "crows.csv:3: stereo_antistereo: is 'sideways'" in message
    assert "crows.csv:4: sent_more: empty" in message


def test_cli_scores_a_real_subset(tiny_model, tmp_path):
    data = shared_data("crows_pairs", "crows_pairs_anonymized.csv")
    out = tmp_path / "crows"
    result = CliRunner().invoke(
        main,
        ["eval", "crows-pairs", "--data", str(data), "--model", str(tiny_model),
         "--limit", "30", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert report["pairs"] == len(rows) == 30
    assert sum(b["pairs"] for b in report["bias_types"].values()) == 30
    assert report["metric"] == pytest.approx(100 * sum(r["biased"] for r in rows) / 30)
    assert all(r["sent_more_score"] < 0 and r["sent_less_score"] < 0 for r in rows)
    assert "race-color" in result.output
    assert (out / "scores.jsonl").stat().st_mode & 0o777 == 0o600
