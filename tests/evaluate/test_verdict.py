"""The one-sentence verdict of `eval mlp`, from hand-made figures."""

from __future__ import annotations

import pytest

from synthpack.evaluate.run import verdict_of, verdict_sentence


def _run(name, f1_delta, p_better, p_worse, auroc_delta, auroc_better, auroc_worse):
    return {
        "name": name,
        "vs_real": {
            "f1_delta": f1_delta, "p_better": p_better, "p_worse": p_worse,
            "auroc_delta": auroc_delta, "auroc_p_better": auroc_better,
            "auroc_p_worse": auroc_worse,
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("p_better", "p_worse", "expected"),
    [
        (0.01, 0.99, "significant gain"),
        (0.049, 0.95, "significant gain"),
        (0.05, 0.95, "no significant change"),  # alpha is strict: p < 0.05
        (0.07, 0.93, "no significant change"),
        (0.60, 0.40, "no significant change"),
        (0.98, 0.03, "significant loss"),
    ],
)
def test_verdict_of_one_sided_p_values(p_better, p_worse, expected):
    assert verdict_of(p_better, p_worse) == expected


def test_the_sentence_names_each_augmented_run_on_f1_and_auroc():
    report = {
        "runs": [
            {"name": "real"},
            # The README's demo of 2026-12-02: an F1 gain that is not significant and a
            # lower AUROC (a threshold shift, not a better ranking).
            _run("real+synthetic", 0.019, 0.07, 0.93, -0.010, 0.80, 0.20),
            _run("synthetic", -0.10, 1.0, 0.001, -0.24, 1.0, 0.001),  # alone: not an uplift
            _run("real+checked", 0.031, 0.012, 0.988, 0.021, 0.004, 0.996),
        ]
    }
    assert verdict_sentence(report) == (
        "Against real data alone (paired bootstrap, one-sided, alpha 0.05): real+synthetic "
        "shows no significant change (+0.019, p = 0.070) in F1 and no significant change "
        "(-0.010, p = 0.800) in AUROC; real+checked shows a significant gain (+0.031, "
        "p = 0.012) in F1 and a significant gain (+0.021, p = 0.004) in AUROC."
    )
    loss = {"runs": [{"name": "real"}, _run("real+x", -0.05, 0.99, 0.01, -0.04, 0.97, 0.03)]}
    assert "significant loss (-0.050, p = 0.010) in F1" in verdict_sentence(loss)
    assert "significant loss (-0.040, p = 0.030) in AUROC" in verdict_sentence(loss)
    shift = {"runs": [{"name": "real"}, _run("real+x", 0.12, 0.001, 0.999, 0.004, 0.30, 0.70)]}
    assert verdict_sentence(shift).endswith(
        "a significant gain (+0.120, p = 0.001) in F1 and no significant change (+0.004, "
        "p = 0.300) in AUROC (a threshold shift, not a change in ranking)."
    )
    assert verdict_sentence({"runs": [{"name": "real"}]}) == (
        "No synthetic set was compared with the real data."
    )
