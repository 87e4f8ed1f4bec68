"""`synthpack sft build`: SFT data from ToxiGen that LLaMA-Factory loads and trains on for real."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.text import text_key
from synthpack.sft.synthesis import build_sft
from synthpack.train.launch import run_llamafactory_train

HATE_CONFIG = pack_dir("llamafactory_configs") / "smollm2_lora_sft_hate.yaml"


def toxigen_seeds():
    root = shared_data("toxigen", "demonstrations")
    return {"hate": [f"{root}/*/hate_*.txt"]}, {"hate": [f"{root}/*/neutral_*.txt"]}


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def parse_numbered(text: str) -> list[str]:
    """Independent of the builder: `1. a\\n2. b` -> [a, b], checking the numbers run 1..N."""
    lines = text.splitlines()
    assert [int(line.split(".", 1)[0]) for line in lines] == list(range(1, len(lines) + 1))
    return [line.split(". ", 1)[1] for line in lines]


@pytest.mark.integration
def test_toxigen_sft_keeps_its_promises_and_trains_with_llamafactory(tiny_model, tmp_path):
    positive, negative = toxigen_seeds()
    out = tmp_path / "sft"
    manifest = build_sft(
        out,
        category="hate",
        versions=("v1", "v2", "v3"),
        per_class=60,
        shots=4,
        n_entries=8,
        val_ratio=0.1,
        seed=3,
        positive=positive,
        negative=negative,
    )
    folder = out / "hate_v1_v2_v3_sft"
    train = json.loads((folder / "train.json").read_text())
    val = json.loads((folder / "val.json").read_text())
    meta = read_jsonl(folder / "records.jsonl")
    assert len(train) == 120 and len(val) == 2 * math.ceil(60 * 0.1)
    assert len(meta) == len(train) + len(val)
    # Balanced classes, versions used in turn.
    assert sum(m["polarity"] == "pos" for m in meta if m["split"] == "train") == 60
    assert {m["version"] for m in meta} == {"v1", "v2", "v3"}
    # Seed texts per class, read independently of the builder.
    root = shared_data("toxigen", "demonstrations")
    seeds = {
        p: {
            text_key(line)
            for f in root.glob(f"*/{prefix}_*.txt")
            for line in f.read_text().splitlines()
        }
        for p, prefix in (("pos", "hate"), ("neg", "neutral"))
    }
    assert len({m["id"] for m in meta}) == len(meta)
    sides = {"train": set(), "val": set()}
    # records.jsonl lists the same records as train.json then val.json, in the same order.
    records = list(zip(train + val, meta, strict=True))
    assert [m["split"] for _, m in records] == ["train"] * len(train) + ["val"] * len(val)
    for record, m in records:
        entries = parse_numbered(record["output"])
        examples = m["examples"]
        assert len(entries) == 8 and len(examples) == 4
        # No output entry of an SFT example is among that example's few-shot examples.
        assert not {text_key(e) for e in entries} & {text_key(e) for e in examples}
        assert all(f"- {e}" in record["instruction"] for e in examples)
        # Entries are real seed texts of the prompt's own class, all different.
        assert {text_key(e) for e in entries + examples} <= seeds[m["polarity"]]
        assert len({text_key(e) for e in entries}) == 8
        sides[m["split"]] |= {text_key(e) for e in entries + examples}
        assert record["input"] == ""
    # No text crosses the train/validation split.
    assert not sides["train"] & sides["val"]
    assert manifest["checks"] == {"entries_in_own_examples": 0, "texts_on_both_sides": 0}
    rejects = read_jsonl(folder / "rejects.jsonl")
    assert (
        manifest["seed_rows"]["hate"]["read"]
        == manifest["seed_rows"]["hate"]["rejected"]
        + sum(v["train_texts"] + v["val_texts"] for v in manifest["per_category"].values())
        and len(rejects) == manifest["seed_rows"]["hate"]["rejected"]
    )

    # LLaMA-Factory's own loader reads both registered splits; three real optimiser steps.
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"hate_v1_v2_v3_sft_train", "hate_v1_v2_v3_sft_val"}
    adapter = tmp_path / "adapter"
    run_llamafactory_train(
        HATE_CONFIG,
        {
            "model_name_or_path": tiny_model,
            "dataset": "hate_v1_v2_v3_sft_train",
            "eval_dataset": "hate_v1_v2_v3_sft_val",
            "dataset_dir": out,
            "output_dir": adapter,
            "max_steps": 3,
            "cutoff_len": 1024,
        },
        log_path=tmp_path / "train.log",
    )
    log = (tmp_path / "train.log").read_text()
    assert re.search(r"Num examples = 120\b", log)  # every training record survived loading
    losses = [
        json.loads(line)["loss"]
        for line in (adapter / "trainer_log.jsonl").read_text().splitlines()
        if "loss" in json.loads(line)
    ]
    # The seeded run's losses (seed 42, fp32, one thread), recorded 2026-12-06 on an
    # "Intel(R) Xeon(R) Processor" (lscpu: family 6, model 167); why abs=1e-4: tests/conftest.py.
    assert losses == pytest.approx([6.406143, 6.404655, 6.406668], abs=1e-4), losses
    assert (adapter / "adapter_model.safetensors").is_file()


def test_mixture_spreads_records_over_categories_and_mix_gpt_adds_positives(tmp_path):
    # Illustrative placeholder seeds: the mixture's structure is under test, not their content.
    seed_dir = tmp_path / "seeds"
    seed_dir.mkdir()
    for name in ("violence", "sexual", "extra"):
        lines = [f"placeholder {name} positive seed number {i}" for i in range(20)]
        (seed_dir / f"{name}.txt").write_text("\n".join(lines) + "\n")
    args = dict(
        per_class=31,
        shots=2,
        n_entries=3,
        val_ratio=0.2,
        seed=1,
        positive={"violence": [seed_dir / "violence.txt"], "sexual": [seed_dir / "sexual.txt"]},
    )
    manifest = build_sft(tmp_path / "mix", mixture="mixture", **args)
    parts = manifest["per_category"]
    assert [parts[f"{c}_pos"]["train_records"] for c in ("hate", "violence", "sexual")] == [
        11,
        10,
        10,
    ]
    assert all(
        parts[f"{c}_neg"]["train_records"] == parts[f"{c}_pos"]["train_records"]
        for c in ("hate", "violence", "sexual")
    )
    assert manifest["records"]["train"] == 62
    assert manifest["checks"] == {"entries_in_own_examples": 0, "texts_on_both_sides": 0}
    # The shared negatives file is split once, not once per category.
    meta = read_jsonl(tmp_path / "mix" / "mixture_v1_sft" / "records.jsonl")
    neg_sides = {}
    for m in meta:
        if m["polarity"] == "neg":
            for t in m["entries"] + m["examples"]:
                neg_sides.setdefault(t, set()).add(m["split"])
    assert all(len(s) == 1 for s in neg_sides.values())

    with pytest.raises(SynthpackError, match="mixture 'mix_gpt' needs --extra-positives"):
        build_sft(tmp_path / "g", mixture="mix_gpt", **args)
    gpt = build_sft(
        tmp_path / "g",
        mixture="mix_gpt",
        extra_positive={"violence": [seed_dir / "extra.txt"]},
        **args,
    )
    assert gpt["per_category"]["violence_pos"]["train_texts"] > parts["violence_pos"]["train_texts"]
    meta = read_jsonl(tmp_path / "g" / "mix_gpt_v1_sft" / "records.jsonl")
    used = {t for m in meta if m["category"] == "violence" for t in m["entries"] + m["examples"]}
    assert any("extra" in t for t in used)


def test_sft_errors_name_the_problem(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["sft", "build", "--mixture", "bigmix", "--out", str(tmp_path)])
    assert "Unknown mixture 'bigmix'. Available: mix_gpt, mixture" in result.output
    result = runner.invoke(
        main, ["sft", "build", "--category", "hate", "--n-entries", "30", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert (
        "hate pos: a record needs 5 examples + 30 answer entries = 35 distinct texts in train "
        "and again in validation, but the seeds hold 24" in result.output
    )
    result = runner.invoke(
        main, ["sft", "build", "--mixture", "mixture", "--pos", "x.txt", "--out", str(tmp_path)]
    )
    assert "--pos x.txt: with --mixture, write CATEGORY=PATH" in result.output
    result = runner.invoke(main, ["sft", "build", "--category", "violence", "--out", str(tmp_path)])
    assert "violence.yaml, field 'seeds.positive' lists none" in result.output


def test_the_shipped_demo_sft_data_is_what_the_documented_command_builds(tmp_path):
    """dataset_info/sft/ ships data built from the hand-written seeds; rebuilding gives the same."""
    result = CliRunner().invoke(
        main,
        [
            "sft",
            "build",
            "--category",
            "hate",
            "--per-class",
            "40",
            "--n-entries",
            "5",
            "--shots",
            "3",
            "--out",
            str(tmp_path / "sft"),
            "--dataset-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    shipped = pack_dir("dataset_info") / "sft" / "hate_v1_sft"
    for split in ("train", "val"):
        assert (tmp_path / "sft" / "hate_v1_sft" / f"{split}.json").read_text() == (
            shipped / f"{split}.json"
        ).read_text(), f"rebuild dataset_info/sft with the command in README ({split} differs)"
