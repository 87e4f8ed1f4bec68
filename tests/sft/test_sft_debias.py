"""`synthpack sft debias`: ParaDetox pairs and CMD rows -> Alpaca records with a system prompt."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from conftest import shared_data

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.text import text_key
from synthpack.prompts.templates import render_debias_instruction, render_debias_system
from synthpack.sft.debias import build_debias
from synthpack.train.launch import run_llamafactory_train

# Hand-written rows in the CMD schema (the paper's field names, nested labels, aliases).
CMD_ROWS = [
    {
        "id": 1,
        "text": "Millennials are too soft and can't handle a real job.",
        "labels": {"Bias": "Yes", "Toxicity": "No", "Sentiment": "Negative", "Harm": "Low"},
        "Biased Words": '"too soft", "can\'t handle a real job"',
        "Safe Variation": "People of every generation can bring strong work habits.",
    },
    {
        "id": 2,
        "text": "Older staff never learn new software.",
        "labels": {"Bias": "Yes", "Toxicity": "Mild", "Sentiment": "Negative", "Harm": "Medium"},
        "Biased Words": ["never learn"],
        "Safe Variation": "Staff of all ages can learn new software with good training.",
    },
    {
        "id": 3,
        "text": "The meeting moved to Tuesday.",
        "labels": {"Bias": "No", "Toxicity": "No", "Sentiment": "Neutral", "Harm": "Low"},
        "Biased Words": "",
        "Safe Variation": "",
    },
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_paradetox_pairs_convert_split_by_source_and_count_up(tmp_path):
    tsv = shared_data("paradetox", "paradetox.tsv")
    manifest = build_debias(tsv, tmp_path, kind="pairs", val_ratio=0.1, seed=0)
    # SOURCE.md: 19,743 toxic -> neutral pairs in 11,927 rows.
    assert manifest["pairs_read"] == 19743
    folder = tmp_path / "debias_paradetox"
    train = json.loads((folder / "train.json").read_text())
    val = json.loads((folder / "val.json").read_text())
    rejects = [json.loads(x) for x in (folder / "rejects.jsonl").read_text().splitlines()]
    crossing = [r for r in rejects if r["reason"] == "crosses_split"]
    assert len(train) + len(val) + len(crossing) == 19743
    system = render_debias_system("general")
    instruction = render_debias_instruction()
    for record in train + val:
        assert set(record) == {"system", "instruction", "input", "output"}
        assert record["system"] == system and record["instruction"] == instruction
        assert record["input"] and record["output"]
    sources = lambda rs: {text_key(r["input"]) for r in rs}  # noqa: E731
    texts = lambda rs: sources(rs) | {text_key(r["output"]) for r in rs}  # noqa: E731
    assert not texts(train) & texts(val)  # no text on both sides
    assert len(sources(val)) == math.ceil(
        0.1 * len(sources(train) | sources(val) | {text_key(r["text"]) for r in crossing})
    )
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["debias_paradetox_train"]["columns"]["system"] == "system"
    assert info["debias_paradetox_train"]["file_name"] == "debias_paradetox/train.json"


def test_cmd_rows_convert_with_labels_checked_and_empty_rewrites_rejected(tmp_path):
    source = write_jsonl(tmp_path / "cmd.jsonl", CMD_ROWS)
    manifest = build_debias(
        source,
        tmp_path / "out",
        kind="cmd",
        system="job_postings",
        hint_biased_words=True,
        val_ratio=0.0,
        name="jobs",
    )
    assert manifest["records"] == {"train": 2, "val": 0} and manifest["rejected"] == 1
    train = json.loads((tmp_path / "out" / "jobs" / "train.json").read_text())
    assert train[0]["system"] == render_debias_system("job_postings")
    assert train[0]["input"] == CMD_ROWS[0]["text"]
    assert train[0]["output"] == CMD_ROWS[0]["Safe Variation"]
    assert '"too soft", "can\'t handle a real job"' in train[0]["instruction"]
    assert '"never learn"' in train[1]["instruction"]
    reject = json.loads((tmp_path / "out" / "jobs" / "rejects.jsonl").read_text())
    assert reject["line"] == 3 and reject["reason"].startswith("no benign_variation")


def test_bad_cmd_and_pairs_files_name_file_line_and_field(tmp_path):
    bad = [dict(CMD_ROWS[0], labels={"Bias": "Maybe"}), {"id": 9, "Safe Variation": "x"}]
    source = write_jsonl(tmp_path / "bad.jsonl", bad)
    with pytest.raises(SynthpackError) as err:
        build_debias(source, tmp_path, kind="cmd")
    assert "bad.jsonl: 2 problem(s) in 2 row(s)" in err.value.message
    assert "bad.jsonl:1: bias: 'Maybe' is not one of ('yes', 'no')" in err.value.message
    assert "bad.jsonl:2: text: missing or empty" in err.value.message
    pairs = tmp_path / "p.tsv"
    pairs.write_text("toxic\tpolite\nyou are dumb\tI disagree\n")
    with pytest.raises(SynthpackError, match=r"p\.tsv:2: neutral1: missing column"):
        build_debias(pairs, tmp_path, target_fields=["neutral1"])
    empty = tmp_path / "e.tsv"
    empty.write_text("")
    with pytest.raises(SynthpackError, match=r"e\.tsv: empty file"):
        build_debias(empty, tmp_path)
    result = CliRunner().invoke(
        main, ["sft", "debias", str(pairs), "--system", "legal", "--out", str(tmp_path)]
    )
    assert "Unknown system prompt 'legal'" in result.output


def test_a_cmd_file_never_shows_its_texts_in_an_error(tmp_path):
    text = "a sentence standing in for a generated harmful text"
    no_header = tmp_path / "cmd.tsv"
    no_header.write_text(f"{text}\tyes\t{text} rewritten\n{text} again\tno\tfine\n")
    swapped = write_jsonl(tmp_path / "swapped.jsonl", [dict(CMD_ROWS[0], labels={"Bias": text})])
    messages = []
    for path in (no_header, swapped):
        with pytest.raises(SynthpackError) as err:
            build_debias(path, tmp_path, kind="cmd")
        messages.append(err.value.message)
        assert "generated" not in err.value.message  # nor its snake_case column-name form
    header_hint = "missing or empty (the first row does not look like a header"
    assert f"{no_header}:2: text: {header_hint}" in messages[0]
    assert f"{swapped}:1: bias: <a text of {len(text)} characters> is not one of" in messages[1]


@pytest.mark.integration
def test_llamafactory_lays_out_the_system_prompt_with_its_llama2_template(tiny_model, tmp_path):
    """The `system` column reaches the model: LLaMA-Factory's log shows the formatted example."""
    tsv = shared_data("paradetox", "paradetox.tsv")
    result = CliRunner().invoke(main, ["sft", "debias", str(tsv), "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "debias_paradetox" in result.output
    run_llamafactory_train(
        pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml",
        {
            "model_name_or_path": tiny_model,
            "dataset": "debias_paradetox_train",
            "dataset_dir": tmp_path / "d",
            "template": "llama2",
            "max_samples": 16,
            "max_steps": 2,
            "cutoff_len": 1024,
            "output_dir": tmp_path / "adapter",
        },
        log_path=tmp_path / "train.log",
    )
    log = (tmp_path / "train.log").read_text()
    assert "[INST] <<SYS>>\n" + render_debias_system("general") + "\n<</SYS>>" in log
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
