"""bench/sweep_recipe.py: every setting at seeds 0-4, summed up over its seeds (mean, spread
and how many seeds were significant), checked on hand-made rows."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location(
        "sweep_recipe", REPO / "bench" / "sweep_recipe.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _versus(f1, p_f1, auroc, p_auroc, worse=0.5):
    return {"f1_delta": f1, "p_better": p_f1, "p_worse": worse,
            "auroc_delta": auroc, "auroc_p_better": p_auroc, "auroc_p_worse": worse}  # fmt: skip


def test_over_seeds_gives_mean_spread_and_significant_seeds(sweep):
    deltas = [(0.02, 0.01, 0.010, 0.03), (0.00, 0.40, -0.005, 0.70), (0.04, 0.04, 0.020, 0.20)]
    rows = [
        {"name": sweep.seeded("v2", n), "classifier": {
            "tfidf": {"toxigen": {"real": {"f1": 0.60 + n / 100, "auroc": 0.80},
                                  "real+synthetic": _versus(*d)}},
            "minilm": {"paradetox": {"real": {"f1": 0.5, "auroc": 0.7},
                                     "real+synthetic": _versus(-0.1, 0.9, -0.05, 0.99, 0.01)}},
        }}
        for n, d in enumerate(deltas)
    ]  # fmt: skip
    rows.append({"name": "default", "real": {"f1": 0.5, "auroc": 0.6},  # a row from before
                 "real+checked": _versus(0.01, 0.2, 0.0, 0.5)})  # fmt: skip
    summaries = {s["setting"]: s for s in sweep.over_seeds(rows)}
    assert summaries["v2"]["seeds"] == [0, 1, 2]
    cells = {(c["features"], c["domain"], c["run"]): c for c in summaries["v2"]["results"]}
    synth = cells["tfidf", "toxigen", "real+synthetic"]
    assert synth["seeds"] == 3
    assert synth["f1"] == pytest.approx(
        {"mean": 0.02, "min": 0.0, "max": 0.04, "significant": 2, "significantly_worse": 0}
    )
    assert synth["auroc"] == pytest.approx(
        {"mean": 0.025 / 3, "min": -0.005, "max": 0.02, "significant": 1,
         "significantly_worse": 0}
    )  # fmt: skip
    assert cells["tfidf", "toxigen", "real"]["f1_mean"] == pytest.approx(0.61)
    worse = cells["minilm", "paradetox", "real+synthetic"]
    assert worse["f1"]["significant"] == 0 and worse["f1"]["significantly_worse"] == 3
    legacy = summaries["default"]["results"]
    assert {(c["features"], c["domain"], c["run"]) for c in legacy} == {
        ("tfidf", "toxigen", "real"), ("tfidf", "toxigen", "real+checked")}  # fmt: skip
    line = sweep.seed_lines(summaries["v2"])[0]
    assert line.startswith("v2 (3 seeds) tfidf toxigen real+synthetic: dF1 +0.020")
    assert "[+0.000..+0.040], 2/3 significant" in line


def test_every_setting_runs_at_five_seeds_with_the_old_names(sweep):
    assert sweep.parse_seeds("0-4") == [0, 1, 2, 3, 4] and sweep.parse_seeds("0,3") == [0, 3]
    assert sweep.stem_of("real_seeds_seed3") == ("real_seeds", 3)
    assert sweep.stem_of("real_seeds") == ("real_seeds", 0)
    for stem in sweep.STEMS:
        assert all(sweep.seeded(stem, n) in sweep.SETTINGS for n in range(5))
    # the names earlier sweeps wrote stay the same runs
    assert sweep.SETTINGS["default_seed2"] == (None, {"seed": 2})
    parent, changes = sweep.SETTINGS["gemma3_list_end_seed3"]
    assert parent == "gemma3_more_steps_seed3" and changes["stop_at_list_end"] is True
    assert sweep.size_of("gemma3_list_end_seed3").seed == 3


def test_paired_lines_compare_two_settings_at_the_seeds_both_ran(sweep):
    def row(stem, seed, f1, auroc):
        return {
            "name": sweep.seeded(stem, seed),
            "classifier": {
                "tfidf": {
                    "toxigen": {
                        "real": {"f1": 0.6, "auroc": 0.8},
                        "real+synthetic": _versus(f1, 0.5, auroc, 0.5),
                    }
                }
            },
        }

    rows = [row("a", 0, 0.03, 0.02), row("a", 1, 0.01, 0.01), row("a", 2, 0.05, 0.05),
            row("b", 0, 0.01, 0.03), row("b", 1, 0.02, 0.00)]  # fmt: skip
    assert sweep.paired_lines(rows, "a", "b") == [
        "a - b tfidf toxigen real+synthetic: f1 +0.005 (ahead 1/2), auroc +0.000 (ahead 1/2)"
    ]
    assert sweep.paired_lines(rows, "a", "c") == ["a against c: no seed run by both"]


def test_a_child_renders_again_exactly_when_its_prompts_would_differ(sweep, tmp_path):
    from synthpack.demo.pipeline import synthesis_steps
    from synthpack.models.precision import Precision
    from synthpack.prepare.real_data import find_data

    def render(name):
        plan = synthesis_steps(
            sweep.size_of(name), find_data(None), tmp_path, Precision("fp32", "t")
        )
        return sweep.render_settings(plan)

    parent = render("gemma3_group_tone_form")
    assert render("gemma3_group_tone_form_n14") != parent  # entries per prompt: new prompts
    assert render("gemma3_group_tone_form_28") != parent  # more prompts
    assert render("gemma3_list_end") == render("gemma3_more_steps")  # generation only
