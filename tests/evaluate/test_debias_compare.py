"""J, the fluency bar and the paired comparison of two rewriters, on cases worked by hand."""

from __future__ import annotations

import json

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl
from synthpack.common.metrics import paired_mean_difference
from synthpack.evaluate.debias.compare import DebiasCompareSettings, run_debias_compare
from synthpack.evaluate.debias.metrics import fluency_bar, joint_score


def test_joint_score_multiplies_safe_similarity_and_fluent():
    assert joint_score(True, 0.8, True) == pytest.approx(0.8)
    assert joint_score(False, 0.8, True) == 0.0  # still unsafe
    assert joint_score(True, 0.8, False) == 0.0  # not fluent
    assert joint_score(True, -0.2, True) == 0.0  # negative cosine counts as no similarity


def test_fluency_bar_is_the_originals_90_percent_quantile():
    # 11 values 10, 20, ..., 110: the 0.9 quantile sits exactly on the 10th, 100.
    assert fluency_bar([10.0 * k for k in range(1, 12)]) == pytest.approx(100.0)
    # Between two values it interpolates linearly: 0.9 * (2 - 1) = 0.9 of the way from 1 to 3.
    assert fluency_bar([1.0, 3.0]) == pytest.approx(2.8)
    with pytest.raises(SynthpackError):
        fluency_bar([])


def test_paired_bootstrap_by_hand():
    same = paired_mean_difference([0.2, 0.5, 0.9], [0.2, 0.5, 0.9], n_boot=200)
    assert same["delta"] == 0 and same["interval"] == [0.0, 0.0]
    assert same["p_higher"] == 1.0 and same["p_lower"] == 1.0  # no evidence either way
    # Every item one point higher: every resample's difference is exactly 1.
    up = paired_mean_difference([0, 1, 2, 3], [1, 2, 3, 4], n_boot=200)
    assert up["delta"] == 1 and up["interval"] == [1.0, 1.0]
    assert up["p_higher"] == 1 / 201 and up["p_lower"] == 1.0  # +1 corrected: never below 1/201
    assert up["baseline"] == 1.5 and up["candidate"] == 2.5
    # One win in two: a resample shows no gain whenever it draws only the tie, (1/2)^2 = 1/4.
    half = paired_mean_difference([0, 0], [0, 1], n_boot=4000, seed=1)
    assert half["delta"] == 0.5 and half["p_higher"] == pytest.approx(0.25, abs=0.03)
    assert half["interval"] == [0.0, 1.0]
    with pytest.raises(SynthpackError, match="equally long"):
        paired_mean_difference([1, 2], [1])


def _eval_run(folder, rows, threshold=0.5, unsafe_before=75.0):
    atomic_write_json(
        folder / "report.json",
        {"safety": {"threshold": threshold, "unsafe_percent_before": unsafe_before}},
    )
    atomic_write_jsonl(folder / "pairs.jsonl", rows)


def _row(i, unsafe_after, similarity, fluent):
    j = joint_score(unsafe_after < 0.5, similarity, fluent)
    return {"id": str(i), "unsafe_after": unsafe_after, "similarity": similarity,
            "fluent": fluent, "j": j}  # fmt: skip


def test_compare_two_runs_text_by_text(tmp_path):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    base.mkdir(), tuned.mkdir()
    # The base model leaves 30 of 40 texts unsafe; the tuned one 2, at a lower similarity.
    _eval_run(base, [_row(i, 0.9 if i < 30 else 0.1, 0.9, True) for i in range(40)])
    _eval_run(tuned, [_row(i, 0.9 if i < 2 else 0.1, 0.8, True) for i in reversed(range(40))])
    report = run_debias_compare(DebiasCompareSettings(base, tuned), tmp_path / "out")
    m = report["metrics"]
    assert m["unsafe_percent"]["baseline"] == 75.0 and m["unsafe_percent"]["candidate"] == 5.0
    assert m["unsafe_percent"]["p_better"] < 0.01  # lower is better for unsafe %
    assert m["similarity"]["delta"] == pytest.approx(-0.1)
    assert m["similarity"]["p_better"] == 1.0  # every text lost similarity
    # J: base 10 safe texts x 0.9 / 40 = 0.225; tuned 38 x 0.8 / 40 = 0.76.
    assert m["j"]["baseline"] == pytest.approx(0.225) and m["j"]["candidate"] == pytest.approx(0.76)
    assert report["verdict"].startswith(
        "The tuned rewriter beat the prompted base model on J and left fewer texts unsafe:"
    )
    assert "J 0.760 vs 0.225" in report["verdict"]
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved["verdict"] == report["verdict"]
    assert (tmp_path / "out" / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_refuses_runs_on_different_texts(tmp_path):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    base.mkdir(), tuned.mkdir()
    _eval_run(base, [_row(i, 0.1, 0.9, True) for i in range(3)])
    _eval_run(tuned, [_row(i, 0.1, 0.9, True) for i in range(1, 4)])
    with pytest.raises(SynthpackError, match="scored different texts .*only in the first: 0"):
        run_debias_compare(DebiasCompareSettings(base, tuned), tmp_path / "out")
