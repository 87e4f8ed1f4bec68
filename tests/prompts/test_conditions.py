"""Conditioned prompts: a target group and attributes reach the rendered prompts, the SFT
records and the cleaned set's counts, spread evenly, from the shipped ToxiGen seed files."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.step import Context
from synthpack.common.text import text_key
from synthpack.prepare.real_data import shipped_data
from synthpack.prompts.categories import load_category
from synthpack.prompts.conditions import group_of, load_attributes, plan_conditions
from synthpack.prompts.render import RenderSettings, run_render, uneven_groups
from synthpack.sft.synthesis import build_sft

SEEDS = shipped_data().seed_files()  # the shipped ToxiGen demonstrations, as the demo reads them
POSITIVE, NEGATIVE = tuple(SEEDS["positive"]), tuple(SEEDS["negative"])


def texts_by_group(files) -> dict[str, set[str]]:
    """Each group's texts, read straight from the seed files (not through the pools)."""
    groups = load_category("hate").groups
    out: dict[str, set[str]] = {}
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        out.setdefault(group_of(path.name, groups), set()).update(
            text_key(line) for line in lines if line.strip()
        )
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_shipped_seed_file_belongs_to_one_of_the_14_groups():
    groups = load_category("hate").groups
    assert len(groups) == 14
    found = {group_of(p.name, groups) for p in POSITIVE + NEGATIVE}
    assert found == set(groups)
    assert group_of("hate_mental_disability_sentences.txt", groups) == "mental_disability"
    assert group_of("neutral_muslim.txt", groups) == "muslim"
    assert group_of("positive.txt", groups) is None


def test_groups_and_attribute_combinations_are_spread_evenly():
    category = load_category("hate")
    plan = plan_conditions(40, "pos", ("group", "tone", "form"), category, random.Random(0))
    groups = Counter(c.group for c in plan)
    combos = Counter(tuple(sorted(c.attributes.items())) for c in plan)
    assert set(groups) == set(category.groups) and max(groups.values()) - min(groups.values()) <= 1
    assert len(combos) == 6 and max(combos.values()) - min(combos.values()) <= 1
    negatives = plan_conditions(6, "neg", ("tone", "form"), category, random.Random(0))
    assert all(set(c.attributes) == {"form"} for c in negatives)  # tone is for positives only
    assert plan_conditions(3, "pos", (), category, random.Random(0)) == [None, None, None]


def test_conditioned_prompts_name_their_group_and_attributes_and_use_its_examples(tmp_path):
    settings = RenderSettings(
        "hate", ("v1", "v2"), positive=POSITIVE, negative=NEGATIVE, shots=3, n_entries=8,
        n_prompts=28, condition=("group", "tone", "form"),
    )  # fmt: skip
    run_render(settings, tmp_path)
    category, attributes = load_category("hate"), load_attributes()
    positives, negatives = texts_by_group(POSITIVE), texts_by_group(NEGATIVE)
    records = read_jsonl(tmp_path / "all.jsonl")
    assert len(records) == 4 * 28
    for record in records:
        group, asked = record["target_group"], record["attributes"]
        title = category.groups[group]
        if record["polarity"] == "pos":
            assert f"Every entry must be about {title}." in record["prompt"]
            assert set(asked) == {"tone", "form"}
        else:
            assert f"Every entry must mention {title}, in a neutral" in record["prompt"]
            assert set(asked) == {"form"}
        for axis, value in asked.items():
            assert attributes[axis]["values"][value] in record["prompt"]
        pool = (positives if record["polarity"] == "pos" else negatives)[group]
        assert all(text_key(e) in pool for e in record["examples"])
    for stem in ("hate_pos_v1", "hate_neg_v2"):
        counts = Counter(r["target_group"] for r in records if r["stem"] == stem)
        assert sorted(counts.values()) == [2] * 14  # 28 prompts over 14 groups
        manifest = json.loads((tmp_path / stem / "manifest.json").read_text())
        assert manifest["condition"] == ["group", "tone", "form"]


def test_render_notes_when_the_prompts_cannot_spread_evenly_over_the_groups(tmp_path):
    notes = []
    for n_prompts in (16, 28):
        settings = RenderSettings(
            "hate", ("v1",), ("pos",), positive=POSITIVE, negative=NEGATIVE, shots=3,
            n_prompts=n_prompts, condition=("group",),
        )  # fmt: skip
        run_render(settings, tmp_path / str(n_prompts), Context(echo=notes.append))
    assert notes == [
        "hate_pos_v1: 16 prompts over 14 groups: 2 of them get 2 prompts, the others 1; "
        "a multiple of 14 prompts spreads them evenly"
    ]
    counts = Counter(r["target_group"] for r in read_jsonl(tmp_path / "16" / "all.jsonl"))
    assert sorted(counts.values()) == [1] * 12 + [2] * 2
    assert uneven_groups(15, 14) == (
        "15 prompts over 14 groups: 1 of them gets 2 prompts, the others 1; "
        "a multiple of 14 prompts spreads them evenly"
    )
    notes.clear()  # one note for every set it applies to, not one per set
    settings = RenderSettings(
        "hate", ("v1", "v2"), ("pos", "neg"), positive=POSITIVE, negative=NEGATIVE, shots=3,
        n_prompts=16, condition=("group",),
    )  # fmt: skip
    run_render(settings, tmp_path / "two", Context(echo=notes.append))
    assert notes == [
        "hate_pos_v1, hate_pos_v2, hate_neg_v1, hate_neg_v2: 16 prompts over 14 groups: 2 of "
        "them get 2 prompts, the others 1; a multiple of 14 prompts spreads them evenly"
    ]


def test_an_axis_named_with_values_asks_only_for_those(tmp_path):
    category = load_category("hate")
    axes = ("group", "tone=implicit", "form", "length=short|long")
    plan = plan_conditions(28, "pos", axes, category, random.Random(0))
    assert {c.attributes["tone"] for c in plan} == {"implicit"}
    forms = Counter(c.attributes["form"] for c in plan)
    assert set(forms) == {"statement", "question", "story"} and max(forms.values()) <= 10
    negatives = plan_conditions(6, "neg", axes, category, random.Random(0))
    assert all(set(c.attributes) == {"form", "length"} for c in negatives)
    # the restriction reaches the rendered prompts: only the implicit requirement line
    settings = RenderSettings(
        "hate", ("v1",), ("pos",), positive=POSITIVE, negative=NEGATIVE, n_prompts=14,
        shots=3, condition=("group", "tone=implicit"),
    )  # fmt: skip
    run_render(settings, tmp_path)
    lines = load_attributes()["tone"]["values"]
    prompts = [r["prompt"] for r in read_jsonl(tmp_path / "all.jsonl")]
    assert len(prompts) == 14 and all(lines["implicit"] in p for p in prompts)
    assert not any(lines["explicit"] in p for p in prompts)


def test_unknown_values_and_values_for_group_fail_at_load():
    from synthpack.demo.recipes import load_recipe

    assert load_recipe("quick", ["condition=group,tone=implicit"]).condition_axes == (
        "group", "tone=implicit",
    )  # fmt: skip
    with pytest.raises(SynthpackError, match="Unknown tone value 'rude'.*explicit, implicit"):
        load_recipe("quick", ["condition=group,tone=rude"])
    with pytest.raises(SynthpackError, match="'group' takes no values"):
        load_recipe("quick", ["condition=group=black"])
    with pytest.raises(SynthpackError, match="'tone' is named twice"):
        load_recipe("quick", ["condition=group,tone,tone=implicit"])


def test_an_unconditioned_prompt_renders_as_before(tmp_path):
    plain = RenderSettings("hate", ("v1",), positive=POSITIVE, negative=NEGATIVE, shots=3)
    run_render(plain, tmp_path / "plain")
    record = read_jsonl(tmp_path / "plain" / "all.jsonl")[0]
    assert "target_group" not in record and "6. " not in record["prompt"]
    assert "must be about" not in record["prompt"]


def test_unknown_axes_and_a_category_without_groups_fail_clearly(tmp_path):
    bad = RenderSettings("hate", ("v1",), positive=POSITIVE, negative=NEGATIVE, condition=("mood",))
    with pytest.raises(SynthpackError, match="Unknown condition 'mood'.*Available: group, tone"):
        run_render(bad, tmp_path / "a")
    no_groups = RenderSettings("violence", ("v1",), condition=("group",))
    with pytest.raises(SynthpackError, match="category 'violence' lists no groups"):
        run_render(no_groups, tmp_path / "b")
    unnamed = RenderSettings(
        "hate", ("v1",), negative=NEGATIVE, condition=("group",),
        positive=(pack_dir("dataset_info") / "seeds" / "hate" / "positive.txt",),
    )  # fmt: skip
    with pytest.raises(SynthpackError, match="no pos seed file .* is named by a group"):
        run_render(unnamed, tmp_path / "c")


def test_sft_records_teach_the_group_with_answers_from_its_seed_files(tmp_path):
    manifest = build_sft(
        tmp_path, category="hate", per_class=48, shots=3, n_entries=8, val_ratio=0.0,
        positive={"hate": list(POSITIVE)}, negative={"hate": list(NEGATIVE)},
        condition=("group", "tone"),
    )  # fmt: skip
    assert manifest["condition"] == ["group"]  # tone is asked at generation only
    assert sum(manifest["records_per_group"].values()) == 96
    records = read_jsonl(tmp_path / manifest["stem"] / "records.jsonl")
    train = json.loads((tmp_path / manifest["stem"] / "train.json").read_text())
    category = load_category("hate")
    positives, negatives = texts_by_group(POSITIVE), texts_by_group(NEGATIVE)
    for record, alpaca in zip(records, train, strict=True):
        group = record["target_group"]
        assert category.groups[group] in alpaca["instruction"]
        pool = (positives if record["polarity"] == "pos" else negatives)[group]
        assert all(text_key(t) in pool for t in record["examples"] + record["entries"])
    # Only groups with 3 + 8 texts can give a record; every such group gets one.
    big = {g for g, texts in positives.items() if len(texts) >= 11}
    assert {r["target_group"] for r in records if r["polarity"] == "pos"} == big


def test_the_cleaned_set_and_its_card_count_entries_per_group_and_attribute(tmp_path):
    from card_checks import check_card

    from synthpack.clean.run import CleanSettings, run_clean
    from synthpack.common.files import atomic_write_jsonl
    from synthpack.common.step import run_step
    from synthpack.generate.resumable import raw_row
    from synthpack.generate.run import RAW
    from synthpack.report.build import build_report, results_table

    settings = RenderSettings(
        "hate", ("v1",), positive=POSITIVE, negative=NEGATIVE, shots=3, n_entries=3,
        n_prompts=14, condition=("group", "form"),
    )  # fmt: skip
    run_render(settings, tmp_path / "prompts")
    prompts = read_jsonl(tmp_path / "prompts" / "all.jsonl")
    # Harmless stand-in answers: this test is about the counting, not about the model.
    rows = [
        raw_row(p, 0, i, {"text": "\n".join(f"{k}. Note {i}-{k} on the {p['polarity']} list "
                                            f"about rivers and weather." for k in (1, 2, 3)),
                          "stopped": True}, {"backend": "test"})
        for i, p in enumerate(prompts)
    ]  # fmt: skip
    out = tmp_path / "gen"
    atomic_write_jsonl(out / RAW, rows)
    report = run_step(run_clean, CleanSettings(out, tmp_path / "prompts" / "all.jsonl"), out)
    for stats in report["by_polarity"].values():
        assert sum(stats["by_group"].values()) == stats["accepted"] == 42
        assert set(stats["by_group"]) == set(load_category("hate").groups)
        assert stats["largest_group_pct"] == round(100 * 3 / 42, 2)
        assert sum(stats["by_attribute"]["form"].values()) == 42
    accepted = read_jsonl(out / "accepted.jsonl")
    by_id = {p["id"]: p for p in prompts}
    assert all(r["target_group"] == by_id[r["prompt_id"]]["target_group"] for r in accepted)
    _, text = check_card(out)
    assert "Kept entries per target group" in text
    assert "| total | 42 | 42 | 100.0 |" in text or "| total | 42 | 42 | 100 |" in text
    # ... and so does the run's HTML report: a row per group, a column per polarity
    html = build_report(tmp_path).read_text()
    assert 'id="groups"' in html
    for group in load_category("hate").groups:
        assert f'<tr><td>{group}</td><td class="num">3</td><td class="num">3</td></tr>' in html
    assert html.count(f'<td class="num">{100 * 3 / 42:.1f}%</td>') == 2  # largest share
    table = results_table(json.loads((tmp_path / "summary.json").read_text()))
    assert table.splitlines()[0].split() == [
        "polarity",
        "success",
        "pass",
        "%",
        "dup",
        "%",
        "kept",
        "groups",
        "largest",
        "group",
        "%",
    ]
    assert [line.split()[-2:] for line in table.splitlines()[2:4]] == [["14", "7.1"]] * 2


def test_the_recipe_key_reaches_render_and_sft_and_a_bad_axis_fails_at_load(tmp_path):
    from synthpack.demo.pipeline import synthesis_steps
    from synthpack.demo.recipes import load_recipe
    from synthpack.models.precision import Precision
    from synthpack.prepare.real_data import shipped_data

    recipe = load_recipe("quick", ["condition=group, form"])
    plan = synthesis_steps(recipe, shipped_data(), tmp_path, Precision("fp32", "t"))
    settings = {step.name: step.runs[0].settings for step in plan if step.runs}
    assert settings["render"].condition == settings["sft"].condition == ("group", "form")
    assert load_recipe("quick").condition_axes == ()
    with pytest.raises(SynthpackError, match="Unknown condition 'mood'"):
        load_recipe("quick", ["condition=group,mood"])
