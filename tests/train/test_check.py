"""`synthpack check`: every problem of a YAML at once, each with its line, before a model loads."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.train.check import check_config, header_commands

CONFIGS = pack_dir("llamafactory_configs")
QLORA = CONFIGS / "llama3.2-1b_qlora_sft_debias.yaml"


def line_of(path, start: str) -> int:
    """1-based number of the first line of `path` that starts with `start`."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


@pytest.fixture()
def dataset_dir(tmp_path):
    """A dataset_dir holding debias_cmd_train / _val, like `synthpack sft debias` writes."""
    folder = tmp_path / "sft"
    (folder / "debias_cmd").mkdir(parents=True)
    record = {"system": "s", "instruction": "i", "input": "a post", "output": "a rewrite"}
    info = {}
    for split in ("train", "val"):
        (folder / "debias_cmd" / f"{split}.json").write_text(json.dumps([record]))
        info[f"debias_cmd_{split}"] = {"file_name": f"debias_cmd/{split}.json"}
    (folder / "dataset_info.json").write_text(json.dumps(info))
    return folder


def edited(tmp_path, source, replacements: dict[str, str]):
    """A copy of a shipped YAML with lines replaced; returns (path, {new line: number})."""
    lines = source.read_text().splitlines()
    numbers = {}
    for old, new in replacements.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(old)]
        lines[index] = new
        numbers[new] = index + 1
    path = tmp_path / source.name
    path.write_text("\n".join(lines) + "\n")
    return path, numbers


def test_every_problem_is_reported_at_once_with_its_line(tmp_path, dataset_dir):
    path, line = edited(
        tmp_path,
        QLORA,
        {
            "lora_rank:": "lora_rnak: 64",
            "lora_dropout:": "lora_dropuot: 0.2",
            "dataset:": "dataset: debias_cmd_trian",
            "template:": "template: llama33",
            "weight_decay:": "learning_rate: 1.0e-4",  # written twice
        },
    )
    result = check_config(path, [f"dataset_dir={dataset_dir}"])
    found = [p.format(path.name) for p in result.problems]
    assert found == [
        f"{path.name}:{line['lora_rnak: 64']}: lora_rnak: unknown key (not an argument of "
        "llamafactory-cli train). Did you mean: lora_rank, local_rank, galore_rank?",
        f"{path.name}:{line['lora_dropuot: 0.2']}: lora_dropuot: unknown key (not an argument "
        "of llamafactory-cli train). Did you mean: lora_dropout, module_dropout?",
        f"{path.name}:{line['dataset: debias_cmd_trian']}: dataset: dataset 'debias_cmd_trian' "
        f"is not in {dataset_dir / 'dataset_info.json'}. Did you mean: debias_cmd_train, "
        "debias_cmd_val? Available: debias_cmd_train, debias_cmd_val. Build it with: "
        "synthpack sft debias CMD_ROWS.jsonl --kind cmd --name debias_cmd --out runs/sft",
        f"{path.name}:{line['template: llama33']}: template: unknown LLaMA-Factory template "
        "'llama33'. Did you mean: llama3, mllama, llama4?",
        f"{path.name}:{line['learning_rate: 1.0e-4']}: learning_rate: written again (first on "
        f"line {line_of(QLORA, 'learning_rate:')}); llamafactory-cli stops at a key written twice",
    ]
    assert "value types not checked: llamafactory-cli cannot read the file" in result.notes[-1]


def test_missing_data_names_the_header_command_and_missing_files(tmp_path, dataset_dir):
    result = check_config(QLORA, cwd=tmp_path)  # runs/sft does not exist here
    (problem,) = result.problems
    assert problem.key == "dataset_dir" and problem.line == line_of(QLORA, "dataset_dir:")
    assert "'runs/sft' does not exist" in problem.message
    assert "synthpack sft debias CMD_ROWS.jsonl --kind cmd --name debias_cmd" in problem.message
    (dataset_dir / "debias_cmd" / "val.json").unlink()
    result = check_config(QLORA, [f"dataset_dir={dataset_dir}"])
    (problem,) = result.problems
    assert problem.key == "eval_dataset" and "debias_cmd/val.json is missing" in problem.message


def test_llamafactory_parser_and_deepspeed_file_are_checked(tmp_path, dataset_dir):
    # LLaMA-Factory's own rule: predictions need predict_with_generate.
    predict = CONFIGS / "llama3.2-1b_qlora_predict_debias.yaml"
    result = check_config(predict, [f"dataset_dir={dataset_dir}", "predict_with_generate=false"])
    (problem,) = result.problems
    assert problem.message == (
        "LLaMA-Factory rejects it: ValueError: Please enable `predict_with_generate` to save "
        "model predictions."
    )
    mistral = CONFIGS / "mistral-7b_lora_sft_hate.yaml"
    shipped = f"dataset_dir={pack_dir('dataset_info')}"
    result = check_config(mistral, ["deepspeed=ds_z9.json", shipped], cwd=tmp_path)
    assert [p.format("m") for p in result.problems] == [
        f"m: deepspeed: {tmp_path}/ds_z9.json not found"
    ]
    result = check_config(mistral, cwd=CONFIGS.parent)
    assert result.ok and "DeepSpeed ZeRO-2" in result.notes[0]


def test_overrides_and_prefix_configs(tmp_path, dataset_dir):
    result = check_config(QLORA, [f"dataset_dir={dataset_dir}", "lora_rnak=8"])
    (problem,) = result.problems
    assert problem.line is None and problem.key == "lora_rnak"  # from the command line
    prefix = CONFIGS / "llama3.2-1b_prefix_sft_debias.yaml"
    result = check_config(prefix, [f"dataset_dir={dataset_dir}", "quantization_bit=4"])
    assert result.kind == "prefix"
    assert [(p.key, p.message) for p in result.problems] == [
        ("quantization_bit", "a LLaMA-Factory key that prefix-tuning does not use")
    ]
    merge = CONFIGS / "llama3.2-1b_qlora_merge_debias.yaml"
    assert check_config(merge).kind == "export" and check_config(merge).ok


def test_values_are_checked_as_llamafactory_cli_reads_them(tmp_path, dataset_dir):
    """OmegaConf reads `1e-4` as a float (PyYAML: a string); a word, a list or a fraction
    where a number, a flag or a count goes is named with its line, each type its own way."""
    path, line = edited(
        tmp_path,
        QLORA,
        {
            "learning_rate:": "learning_rate: 1e-4",  # a float to llamafactory-cli: fine
            "num_train_epochs:": "num_train_epochs: many",
            "bf16:": "bf16: [true]",
            "per_device_train_batch_size:": "per_device_train_batch_size: 2.5",
        },
    )
    result = check_config(path, [f"dataset_dir={dataset_dir}", "lora_rank=8.0"])
    assert result.config["learning_rate"] == 1e-4
    assert [p.format(path.name) for p in result.problems] == [
        f"{path.name}:{line['per_device_train_batch_size: 2.5']}: per_device_train_batch_size: "
        "expects an integer, got float 2.5",
        f"{path.name}:{line['num_train_epochs: many']}: num_train_epochs: expects a number, "
        "got str 'many'",
        f"{path.name}:{line['bf16: [true]']}: bf16: expects true or false, got list [True]",
        f"{path.name}: lora_rank: expects an integer, got float 8.0",  # the command line
    ]


def test_type_mismatch_of_optional_literal_and_unchecked_fields():
    from typing import Literal

    from synthpack.train.lf_config import type_mismatch

    assert type_mismatch(None, int | None) is None
    assert type_mismatch(3, float) is None  # an integer is a number
    assert type_mismatch(True, int) == "expects an integer, got bool True"
    assert type_mismatch("x", Literal["a", "b"]) == "expects one of 'a', 'b', got str 'x'"
    assert type_mismatch("a,b", list[str]) is None  # containers: their parsers check them
    assert type_mismatch(5, str | None) == "expects a string or null, got int 5"


def test_llamafactory_itself_stops_an_unknown_key_before_loading_anything():
    """What `llamafactory-cli train` runs first: its parser refuses unknown keys."""
    import yaml
    from llamafactory.hparams import get_train_args

    config = yaml.safe_load(QLORA.read_text()) | {"lora_rnak": 64}
    with pytest.raises(
        ValueError, match=r"Some keys are not used by the HfArgumentParser: \['lora_rnak'\]"
    ):
        get_train_args(config)


def test_check_command_exit_codes_and_output(tmp_path, dataset_dir):
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(QLORA), f"dataset_dir={dataset_dir}"])
    assert result.exit_code == 0, result.output
    assert f"OK: {QLORA} (llamafactory-cli train {QLORA})" in result.output
    path, _ = edited(tmp_path, QLORA, {"lora_rank:": "lora_rnak: 64"})
    result = runner.invoke(main, ["check", str(path), f"dataset_dir={dataset_dir}"])
    assert result.exit_code == 1
    assert "lora_rnak: unknown key" in result.output and "1 problem(s)" in result.output
    result = runner.invoke(main, ["check", str(QLORA), "dataset_dir"])
    assert result.exit_code == 1 and "override 'dataset_dir': write key=value" in result.output


def test_header_commands_follow_line_continuations():
    text = (CONFIGS / "mistral-7b_lora_sft_mixture.yaml").read_text()
    (command,) = header_commands(text)
    assert command.startswith("synthpack sft build --mixture mixture --pos hate=HATE_POS.txt")
    assert command.endswith("--neg sexual=NEGATIVES.txt --out runs/sft")
