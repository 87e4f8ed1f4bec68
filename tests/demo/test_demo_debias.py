"""`synthpack demo --recipe debias`: the debias pipeline end to end on the tiny model."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.text import text_key
from synthpack.demo.debias import DEBIAS_STEPS
from synthpack.demo.pipeline import parse_steps, run_demo
from synthpack.demo.recipes import DebiasRecipe, load_recipe, recipe_command

# The shipped debias recipe at a fraction of its size: every step runs for real.
REDUCED = replace(
    load_recipe("debias"),
    train_sources=80,
    test_sources=24,
    train_steps=2,
    batch_size=4,
    max_new_tokens=8,
    rewrite_batch_size=8,
    stereoset_examples=6,
    crows_pairs_examples=6,
)


def test_the_debias_recipe_is_its_own_kind_with_its_own_steps():
    assert isinstance(REDUCED, DebiasRecipe) and REDUCED.pipeline == "debias"
    shipped = load_recipe("debias")
    assert recipe_command(shipped.with_overrides(["train_steps=7"])) == [
        "--recipe", "debias", "train_steps=7",
    ]  # fmt: skip
    assert parse_steps("rewrite-crows_pairs", DEBIAS_STEPS) == [
        "rewrite", "compare", "stereoset", "crows_pairs",
    ]  # fmt: skip
    with pytest.raises(SynthpackError, match="Unknown recipe field 'prompts_per_polarity'"):
        REDUCED.with_overrides(["prompts_per_polarity=3"])


@pytest.mark.integration
def test_reduced_debias_demo_end_to_end(tiny_model, tmp_path):
    """Every step for real on the shipped data (a fresh clone has no ../shared), then a
    resume that reuses them all."""
    run = tmp_path / "debias"
    lines: list[str] = []
    records = run_demo(run, REDUCED, model_dir=tiny_model, data_dir=tmp_path / "none",
                       echo=lambda m, **k: lines.append(m))  # fmt: skip
    assert [r["step"] for r in records] == list(DEBIAS_STEPS)
    assert all(r["status"] == "ran" for r in records)

    # The held-out sentences are in no training text, of the rewriter or of the judge.
    read = lambda path: [json.loads(x) for x in path.open()]  # noqa: E731
    test = read(run / "data" / "test.jsonl")
    held = {text_key(t) for r in test for t in (r["original"], *r["references"])}
    sft = json.loads((run / "sft" / "paradetox_debias" / "train.json").read_text())
    assert sft[0]["system"].startswith("You are an assistant that turns user posts")
    assert not held & {text_key(r[f]) for r in sft for f in ("input", "output")}
    assert not held & {text_key(r["text"]) for r in read(run / "data" / "judge_train.jsonl")}

    # Both rewriters rewrote every held-out sentence; the comparison is paired on them.
    for name in ("base", "tuned"):
        rewrites = read(run / "rewrites" / name / "rewrites.jsonl")
        assert [r["original"] for r in rewrites] == [r["original"] for r in test]
        assert (run / "rewrites" / name / "rewrites.jsonl").stat().st_mode & 0o777 == 0o600
    compare = json.loads((run / "compare" / "compare.json").read_text())
    assert compare["texts"] == len(test) == REDUCED.test_sources
    assert set(compare["metrics"]) == {"unsafe_percent", "similarity", "fluent_percent", "j"}

    summary = json.loads((run / "summary.json").read_text())
    debias = summary["debias"]
    assert list(debias["rewriters"]) == ["reference", "base", "tuned"]  # the human paraphrases too
    assert set(debias["crows_pairs"]) == {"base", "tuned"}
    assert set(summary["stereoset"]) == {"base", "tuned"}
    assert 0 <= debias["judge"]["accuracy"] <= 1 and debias["judge"]["eval_size"] == 48
    assert (
        "than the prompted base model" in summary["verdict"]
        or "the prompted base model on J" in summary["verdict"]
    )
    html = (run / "report.html").read_text()
    assert summary["verdict"].split(":")[0] in html and "CrowS-Pairs" in html
    assert "Generation and cleaning" not in html  # the synthesis sections stay out
    screen = "\n".join(lines)
    assert "unsafe %" in screen and "J" in screen and summary["verdict"] in screen
    assert not any(r["original"] in screen for r in test)  # no toxic text on the terminal

    again = run_demo(run, REDUCED, model_dir=tiny_model, data_dir=tmp_path / "none",
                     echo=lambda *a, **k: None)  # fmt: skip
    assert all(r["status"] == "reused" for r in again)
