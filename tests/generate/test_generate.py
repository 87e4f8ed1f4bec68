"""`synthpack generate` end to end: predictions, a real SmolLM2 run, resume after a kill."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"
OUTPUTS = ("raw.jsonl", "accepted.jsonl", "rejected.jsonl", "alpaca.json", "report.json")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_predictions_are_cleaned_counted_registered_and_kept_private(tmp_path):
    out, dataset_dir = tmp_path / "gen", tmp_path / "data"
    result = run(
        "generate",
        "--prompts",
        PROMPTS,
        "--predictions",
        PREDICTIONS,
        "--out",
        out,
        "--register",
        dataset_dir,
        "--name",
        "hate_gen",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["entries_parsed"] == report["accepted"] + report["rejected"] > 0
    assert sum(report["rejected_by_reason"].values()) == report["rejected"]
    assert len(_lines(out / "accepted.jsonl")) == report["accepted"]
    assert len(_lines(out / "rejected.jsonl")) == report["rejected"]
    assert {r["label"] for r in _lines(out / "accepted.jsonl")} == {0, 1}
    for name in OUTPUTS:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    pos = report["by_polarity"]["pos"]
    assert pos["duplicated_entries"] == pos["duplicates_per_prompt_total"] > 0
    info = json.loads((dataset_dir / "dataset_info.json").read_text())
    assert info["hate_gen"]["file_name"] == str((out / "alpaca.json").resolve())
    assert "Gay people" not in result.output  # no harmful sample printed unless asked


def test_entries_repeating_the_against_texts_are_rejected(tmp_path):
    against = tmp_path / "seeds.txt"
    against.write_text("The report is due on Thursday.\n")
    out = tmp_path / "gen"
    assert (
        run(
            "generate",
            "--prompts",
            PROMPTS,
            "--predictions",
            PREDICTIONS,
            "--out",
            out,
            "--against",
            against,
        ).exit_code
        == 0
    )
    rejected = _lines(out / "rejected.jsonl")
    assert {
        "text": "The report is due on Thursday.",
        "reason": "duplicate_of_against",
    }.items() <= next(r for r in rejected if r["reason"] == "duplicate_of_against").items()


def test_misaligned_predictions_name_the_line(tmp_path):
    lines = PREDICTIONS.read_text().splitlines()
    swapped = tmp_path / "preds.jsonl"
    swapped.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    result = run(
        "generate", "--prompts", PROMPTS, "--predictions", swapped, "--out", tmp_path / "o"
    )
    assert result.exit_code == 1
    assert f"{swapped}:1: prompt:" in result.output
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:4]) + "\n")
    result = run("generate", "--prompts", PROMPTS, "--predictions", short, "--out", tmp_path / "o")
    assert "4 predictions for 6 prompts" in result.output


def test_a_prompts_file_with_a_missing_field_is_named(tmp_path):
    bad = tmp_path / "prompts.jsonl"
    rows = _lines(PROMPTS)
    del rows[1]["n_entries"]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run(
        "generate", "--prompts", bad, "--predictions", PREDICTIONS, "--out", tmp_path / "o"
    )
    assert result.exit_code == 1
    assert f"{bad}: 1 problem(s) in 1 row(s):\n  {bad}:2: n_entries: missing" in result.output


def _generate_cmd(model, out):
    synthpack = Path(sys.executable).with_name("synthpack")
    return [
        str(synthpack),
        "generate",
        "--prompts",
        str(PROMPTS),
        "--model",
        str(model),
        "--out",
        str(out),
        "--samples",
        "4",
        "--batch-size",
        "2",
        "--max-new-tokens",
        "48",
        "--seed",
        "3",
    ]


@pytest.mark.integration
def test_a_killed_run_resumes_to_the_same_files(tiny_model, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    subprocess.run(_generate_cmd(tiny_model, whole), check=True, capture_output=True)
    proc = subprocess.Popen(
        _generate_cmd(tiny_model, resumed),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    raw = resumed / "raw.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (raw.exists() and raw.read_text().count("\n") >= 4):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = raw.read_text().count("\n")
    assert 4 <= done_before < 24, "the run must be killed midway"
    subprocess.run(_generate_cmd(tiny_model, resumed), check=True, capture_output=True)
    report = json.loads((resumed / "report.json").read_text())
    assert report["generation"]["batches_reused"] >= 2
    for name in ("raw.jsonl", "accepted.jsonl", "rejected.jsonl", "alpaca.json"):
        assert (resumed / name).read_text() == (whole / name).read_text(), name


@pytest.mark.slow
def test_smollm2_generates_entries_that_parse_and_add_up(smollm2, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    rows = [r for r in _lines(PROMPTS) if r["version"] == "v3"]
    prompts.write_text("".join(json.dumps({**r, "n_entries": 5}) + "\n" for r in rows))
    out = tmp_path / "gen"
    result = run(
        "generate",
        "--prompts",
        prompts,
        "--model",
        smollm2,
        "--out",
        out,
        "--max-new-tokens",
        "160",
        "--batch-size",
        "2",
        "--seed",
        "1",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["entries_parsed"] > 0
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    assert report["generation"]["tokens_per_s"] > 0
    assert "tokens/s" in result.output


@pytest.mark.integration
def test_grouped_attention_gives_the_same_logits_and_tokens_as_sdpa(tiny_model):
    """load_model's copy-free grouped-query attention must not change a single token."""
    import torch
    from transformers import AutoModelForCausalLM

    from synthpack.models.backends import GROUPED_ATTENTION, Sampling, generate_batch, load_model

    grouped, tokenizer = load_model(tiny_model)
    assert grouped.config._attn_implementation == GROUPED_ATTENTION
    reference = AutoModelForCausalLM.from_pretrained(tiny_model, attn_implementation="sdpa")
    prompts = ["Write two short sentences.", "A much longer request " * 12, "Hi"]
    chats = [[{"role": "user", "content": p}] for p in prompts]
    texts = [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats
    ]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        ours, theirs = grouped(**enc).logits, reference.eval()(**enc).logits
    kept = enc.attention_mask.bool()
    assert torch.allclose(ours[kept], theirs[kept], atol=1e-5)
    greedy = Sampling(max_new_tokens=24)
    assert generate_batch(grouped, tokenizer, prompts, greedy, seed=0) == generate_batch(
        reference, tokenizer, prompts, greedy, seed=0
    )


@pytest.mark.integration
def test_a_compiled_decoding_step_writes_the_same_tokens(tiny_model):
    """Long runs compile the decoding step (with prompts padded to a multiple of 64 tokens);
    greedy answers must be the very tokens of the eager model."""
    from synthpack.models.backends import Sampling, compile_decoding, generate_batch, load_model

    prompts = ["Write two short sentences.", "A much longer request " * 12, "Hi"]
    greedy = Sampling(max_new_tokens=12)
    model, tokenizer = load_model(tiny_model, precision="fp32")
    eager = generate_batch(model, tokenizer, prompts, greedy, seed=0)
    compile_decoding(model)
    assert generate_batch(model, tokenizer, prompts, greedy, seed=0) == eager
