"""`synthpack render`: prompt records, stable ids, the registered Alpaca set, real do_predict."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.prompts.pools import length_filter
from synthpack.train.launch import run_llamafactory_train

FIELDS = {
    "id",
    "stem",
    "category",
    "version",
    "polarity",
    "n_entries",
    "example_length",
    "examples",
    "prompt",
}


def render(*args: str):
    result = CliRunner().invoke(main, ["render", *args])
    return result


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_render_writes_records_alpaca_and_registration_from_the_shipped_seeds(tmp_path):
    out = tmp_path / "prompts"
    result = render(
        "--category",
        "hate",
        "--n-prompts",
        "4",
        "--shots",
        "3",
        "--n-entries",
        "6",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    stems = [f"hate_{p}_{v}" for p in ("pos", "neg") for v in ("v1", "v2", "v3")]
    info = json.loads((out / "dataset_info.json").read_text())
    assert sorted(info) == sorted(stems)
    seeds = {
        "pos": set((pack_dir("dataset_info") / "seeds/hate/positive.txt").read_text().splitlines()),
        "neg": set(
            (pack_dir("dataset_info") / "seeds/neutral/negative.txt").read_text().splitlines()
        ),
    }
    for stem in stems:
        records = read_jsonl(out / stem / "prompts.jsonl")
        assert len(records) == 4 and all(set(r) == FIELDS for r in records)
        assert len({r["id"] for r in records}) == 4
        for r in records:
            assert r["stem"] == stem and r["n_entries"] == 6 and len(r["examples"]) == 3
            assert set(r["examples"]) <= seeds[r["polarity"]]  # same class as the prompt
            assert all(f"- {e}" in r["prompt"] for e in r["examples"])
        alpaca = json.loads((out / info[stem]["file_name"]).read_text())
        assert [a["instruction"] for a in alpaca] == [r["prompt"] for r in records]
        assert stat.S_IMODE((out / stem / "prompts.jsonl").stat().st_mode) == 0o600
    assert "hate_pos_v1" in result.output


def test_ids_are_stable_for_the_same_inputs_and_seed(tmp_path):
    args = [
        "--category",
        "hate",
        "--versions",
        "v2",
        "--polarity",
        "pos",
        "--n-prompts",
        "3",
        "--shots",
        "2",
        "--n-entries",
        "5",
    ]
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert render(*args, "--seed", seed, "--out", str(tmp_path / name)).exit_code == 0
    a, b, c = (read_jsonl(tmp_path / n / "hate_pos_v2" / "prompts.jsonl") for n in "abc")
    assert a == b
    assert [r["id"] for r in a] != [r["id"] for r in c]
    # Adding another version to the call does not change this stem's prompts.
    both = render(
        *args[:2], "--versions", "v1,v2", *args[4:], "--seed", "7", "--out", str(tmp_path / "d")
    )
    assert both.exit_code == 0
    assert read_jsonl(tmp_path / "d" / "hate_pos_v2" / "prompts.jsonl") == a


def test_short_and_long_examples_split_the_pool_at_its_median_length():
    texts = [
        "one",
        "two words",
        "now three words",
        "this has four words",
        "and this has five words",
    ]
    assert length_filter(texts, "short") == texts[:3]
    assert length_filter(texts, "long") == texts[3:]
    assert length_filter(texts, "any") == texts


def test_bad_input_fails_with_a_message_naming_what_is_wrong(tmp_path):
    out = str(tmp_path / "o")
    result = render("--category", "sexual", "--out", out)
    assert result.exit_code == 1
    assert "sexual.yaml, field 'seeds.positive' lists none; pass --pos FILE" in result.output
    result = render("--category", "hate", "--versions", "v7", "--out", out)
    assert "Unknown version 'v7'. Available: v1, v2, v3" in result.output
    result = render("--category", "hate", "--shots", "40", "--out", out)
    assert "40 examples per prompt asked for, but only" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,label\nhello,1\n")
    result = render("--category", "hate", "--seeds", str(bad), "--out", out)
    assert f"{bad}:1: text: missing column (columns: sentence, label)" in result.output


@pytest.mark.integration
def test_render_from_toxigen_and_generate_with_llamafactory_do_predict(tiny_model, tmp_path):
    """The registered prompt set feeds `llamafactory-cli train ... do_predict` as it is."""
    root = shared_data("toxigen", "demonstrations")
    out = tmp_path / "prompts"
    result = render(
        "--category",
        "hate",
        "--versions",
        "v3",
        "--polarity",
        "pos",
        "--n-prompts",
        "3",
        "--pos",
        f"{root}/*/hate_*.txt",
        "--neg",
        f"{root}/*/neutral_*.txt",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    records = read_jsonl(out / "hate_pos_v3" / "prompts.jsonl")
    assert len(records) == 3 and all(len(r["examples"]) == 5 for r in records)
    predictions = tmp_path / "predict"
    run_llamafactory_train(
        pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml",
        {
            "model_name_or_path": tiny_model,
            "do_train": False,
            "do_predict": True,
            "predict_with_generate": True,
            "dataset": "null",  # no training set
            "eval_dataset": "hate_pos_v3",
            "dataset_dir": out,
            "output_dir": predictions,
            "max_new_tokens": 6,
            "cutoff_len": 4096,  # the tiny tokenizer splits text into many tokens
            "per_device_eval_batch_size": 3,
        },
        log_path=tmp_path / "predict.log",
    )
    rows = read_jsonl(predictions / "generated_predictions.jsonl")
    assert len(rows) == 3
    for row, record in zip(rows, records, strict=True):
        assert all(e in row["prompt"] for e in record["examples"])  # whole prompt, in order
        assert isinstance(row["predict"], str)


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_negative_prompts_from_toxigen_show_only_neutral_examples(version, tmp_path):
    root = shared_data("toxigen", "demonstrations")
    result = render(
        "--category",
        "hate",
        "--versions",
        version,
        "--polarity",
        "neg",
        "--pos",
        f"{root}/*/hate_*.txt",
        "--neg",
        f"{root}/*/neutral_*.txt",
        "--example-length",
        "long",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    hate = {
        " ".join(line.split())
        for p in root.glob("*/hate_*.txt")
        for line in p.read_text().splitlines()
    }
    for record in read_jsonl(tmp_path / f"hate_neg_{version}" / "prompts.jsonl"):
        assert not set(record["examples"]) & hate
