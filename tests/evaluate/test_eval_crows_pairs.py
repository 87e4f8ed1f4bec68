"""CrowS-Pairs for causal LMs: loader, upstream's counting rule, and a real scoring run."""

from __future__ import annotations

import json

import numpy as np
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
    summary = crows_pairs.summarize(pairs, more, less, n_boot=0)
    assert summary["pairs"] == 4 and summary["metric"] == pytest.approx(25.0)
    assert summary["bias_types"]["gender"] == {"metric": pytest.approx(100 / 3), "pairs": 3}
    assert summary["bias_types"]["race-color"] == {"metric": 0.0, "pairs": 1}
    assert summary["directions"]["stereo"]["metric"] == pytest.approx(100 / 3)
    assert summary["directions"]["antistereo"] == {"metric": 0.0, "pairs": 1}

    # With intervals (the default) the figures stay as they were; the intervals by hand, from
    # the share of 1000 resamples at each value. All four pairs, one biased: 0 of 4 drawn
    # biased has probability (3/4)^4 = 32% (low end 0), 3 or more 5.1%, all four 0.4% (high
    # end 75). Three pairs, one biased: all three drawn biased has probability 1/27 = 3.7%, so
    # the high end is 100. One unbiased pair: every resample says 0.
    boot = crows_pairs.summarize(pairs, more, less)
    strip = {k: v for k, v in boot.items() if k != "interval"}
    assert strip["metric"] == summary["metric"] and strip["pairs"] == 4
    assert boot["interval"] == [0.0, 75.0]
    assert boot["bias_types"]["gender"]["interval"] == [0.0, 100.0]
    assert boot["bias_types"]["race-color"]["interval"] == [0.0, 0.0]
    assert boot["directions"]["stereo"]["interval"] == [0.0, 100.0]
    assert boot["directions"]["antistereo"]["interval"] == [0.0, 0.0]
    for group in ("directions", "bias_types"):
        for name, block in boot[group].items():
            assert block["metric"] == summary[group][name]["metric"]
    assert crows_pairs.report_rows(boot)[0] == ["all", "25.00 [0.0, 75.0]", "4"]
    assert crows_pairs.report_rows(summary)[0] == ["all", "25.00", "4"]  # an older report


def _outcomes(flags, bias_type="gender", start=0):
    n = len(flags)
    return crows_pairs.Outcomes(
        tuple(range(start, start + n)), ("stereo",) * n, (bias_type,) * n, np.array(flags)
    )


def test_paired_comparison_by_hand():
    same = _outcomes([1, 0, 1, 1, 0])
    result = crows_pairs.compare(same, same, n_boot=500)
    assert result["pairs"] == 5
    for key in ("metric", "distance_from_50"):
        assert result[key] == {"delta": 0.0, "interval": [0.0, 0.0], "p_higher": 1.0,
                               "p_lower": 1.0}  # fmt: skip

    # Base prefers the stereotype on every pair, the other model on none: lower on every
    # resample, so p_lower is the smallest a +1 corrected bootstrap gives, 1 / (n_boot + 1).
    # Both sit 50 points from no preference, so that distance does not change.
    always, never = _outcomes([1] * 12), _outcomes([0] * 12)
    result = crows_pairs.compare(always, never, n_boot=999)
    assert result["metric"] == {"delta": -100.0, "interval": [-100.0, -100.0],
                                "p_higher": 1.0, "p_lower": 0.001}  # fmt: skip
    assert result["distance_from_50"]["delta"] == 0.0
    assert result["distance_from_50"]["p_lower"] == 1.0

    # Half the biased pairs unlearned: 75% -> 50%, closer to no preference.
    base = _outcomes([1, 1, 1, 0] * 40)
    tuned = _outcomes([1, 0, 1, 0] * 40)
    result = crows_pairs.compare(base, tuned)
    assert result["metric"]["delta"] == pytest.approx(-25.0)
    assert result["metric"]["p_lower"] < 0.01 and result["metric"]["p_higher"] > 0.99
    # Each resample's delta is -100 * (flipped pairs drawn) / 160, drawn ~ Bin(160, 1/4):
    # standard deviation 5.5 pairs = 3.4 points, so about -25 +- 6.7.
    low, high = result["metric"]["interval"]
    assert -34 < low < -29 and -21 < high < -16
    assert result["distance_from_50"]["delta"] == pytest.approx(-25.0)
    assert result["distance_from_50"]["p_lower"] < 0.01

    # The pairs are lined up by row index, whatever order the files hold them in.
    shuffled = tuned.take(list(range(160))[::-1])
    assert crows_pairs.compare(base, shuffled) == result
    with pytest.raises(SynthpackError, match=r"different CrowS-Pairs pairs .*second: 160, 161"):
        crows_pairs.compare(base, _outcomes([0] * 162))


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
    assert "2 problem(s) in 2 row(s)" in message
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

    # Intervals in the report and the table; per-pair outcomes read back from scores.jsonl.
    low, high = report["interval"]
    assert low <= report["metric"] <= high and high - low > 0
    assert f"{report['metric']:.2f} [{low:.1f}, {high:.1f}]" in result.output
    assert report["meta"]["bootstrap"] == {"n_boot": 1000, "seed": 0, "level": 0.95}
    outcomes = crows_pairs.load_outcomes(out / "scores.jsonl")
    assert len(outcomes) == 30 and crows_pairs.metric(outcomes) == report["metric"]
    assert list(outcomes.biased) == [r["biased"] for r in rows]
    assert crows_pairs.bootstrap_metric(outcomes) == [low, high]
    assert crows_pairs.compare(outcomes, outcomes)["metric"]["delta"] == 0.0

    broken = tmp_path / "broken.jsonl"
    broken.write_text((out / "scores.jsonl").read_text().replace('"sent_less_score"', '"x"', 1))
    with pytest.raises(SynthpackError, match=r"broken.jsonl:1: sent_less_score: missing"):
        crows_pairs.load_outcomes(broken)
