"""`synthpack register`; `synthpack category new` run through render, sft build, training."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.formats.dataset_info import read_dataset_info
from synthpack.prompts.scaffold import per_category_configs
from synthpack.train.launch import run_llamafactory_train


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_every_dataset_a_shipped_yaml_names_is_registered_and_present():
    info = read_dataset_info(pack_dir("dataset_info"))
    for path in sorted(pack_dir("llamafactory_configs").glob("*.yaml")):
        text = path.read_text()
        config = yaml.safe_load(text)
        for key in ("dataset", "eval_dataset"):
            for name in filter(None, str(config.get(key) or "").split(",")):
                if config.get("dataset_dir") != "dataset_info":
                    # Not shipped: the header names the command that builds it into dataset_dir
                    # (tests/train/test_yaml_pack.py runs those commands).
                    assert f"--out {config['dataset_dir']}" in text, f"{path.name}: {name!r}"
                    continue
                assert name.strip() in info, f"{path.name}: {key} {name!r} not registered"
                assert (pack_dir("dataset_info") / info[name.strip()]["file_name"]).is_file()


def test_register_adds_and_updates_one_entry_and_leaves_the_rest(tmp_path):
    dataset_dir = tmp_path / "di"
    dataset_dir.mkdir()
    other = {"file_name": "x.json", "formatting": "alpaca", "columns": {"prompt": "instruction"}}
    (dataset_dir / "dataset_info.json").write_text(json.dumps({"other": other}))
    inside = dataset_dir / "mine.json"
    inside.write_text(json.dumps([{"instruction": "hi", "input": "", "output": "there"}]))
    result = invoke("register", "mine", inside, "--dataset-dir", dataset_dir)
    assert result.exit_code == 0 and result.output.startswith("added mine -> mine.json")
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps([{"system": "s", "instruction": "a", "output": "b"}]))
    result = invoke("register", "mine", outside, "--dataset-dir", dataset_dir, "--system")
    assert result.exit_code == 0 and result.output.startswith("updated mine")
    info = json.loads((dataset_dir / "dataset_info.json").read_text())
    assert info["other"] == other
    # Outside dataset_dir: an absolute path, which LLaMA-Factory's os.path.join keeps as is.
    assert info["mine"]["file_name"] == str(outside.resolve())
    assert info["mine"]["columns"]["system"] == "system"
    assert sorted(p.name for p in dataset_dir.iterdir()) == ["dataset_info.json", "mine.json"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "a"}]))
    result = invoke("register", "broken", bad, "--dataset-dir", dataset_dir)
    assert result.exit_code == 1 and f"{bad}, record 1: output: missing" in result.output
    assert "broken" not in json.loads((dataset_dir / "dataset_info.json").read_text())


def copy_pack(root):
    """The pack's editable folders, as a team's fork holds them."""
    shutil.copytree(pack_dir("templates"), root / "templates")
    shutil.copytree(pack_dir("llamafactory_configs"), root / "llamafactory_configs")
    (root / "dataset_info").mkdir()
    shutil.copy(pack_dir("dataset_info") / "dataset_info.json", root / "dataset_info")
    shutil.copytree(pack_dir("dataset_info") / "seeds", root / "dataset_info" / "seeds")


@pytest.mark.integration
def test_a_new_category_scaffolds_renders_builds_and_trains(tiny_model, tmp_path):
    root = tmp_path / "fork"
    copy_pack(root)
    result = invoke(
        "category",
        "new",
        "scam",
        "--definition",
        "messages that try to trick people out of money or personal data.",
        "--title",
        "scam messages",
        "--root",
        root,
    )
    assert result.exit_code == 0, result.output
    category_file = root / "templates" / "categories" / "scam.yaml"
    assert yaml.safe_load(category_file.read_text())["title"] == "scam messages"
    # Every per-category YAML was copied with the name replaced in its datasets and output_dir.
    sources = per_category_configs(pack_dir("llamafactory_configs"))
    assert sources, "the pack ships at least one per-category YAML to copy"
    copies = per_category_configs(root / "llamafactory_configs", "scam")
    assert [p.name for p in copies] == [p.name.replace("hate", "scam") for p in sources]
    # The CPU copy trains below; the GPU copies (Mistral) are run by tests/train/test_yaml_pack.py.
    cpu_copy = root / "llamafactory_configs" / "smollm2_lora_sft_scam.yaml"
    config = yaml.safe_load(cpu_copy.read_text())
    assert config["dataset"] == "scam_v1_sft_train" and "scam" in config["output_dir"]
    info = json.loads((root / "dataset_info" / "dataset_info.json").read_text())
    assert info["scam_v1_sft_train"]["file_name"] == "sft/scam_v1_sft/train.json"
    assert "hate_v1_sft_train" in info  # the others are untouched
    # Existing files are never overwritten silently.
    again = invoke("category", "new", "scam", "--definition", "x", "--root", root)
    assert again.exit_code == 1 and "exists" in again.output

    # A team adds its seeds, then renders and builds with the fork's templates.
    seeds = root / "dataset_info" / "seeds" / "scam" / "positive.txt"
    seeds.parent.mkdir()
    seeds.write_text(
        "".join(f"placeholder scam seed {i}: send a fee to claim your prize\n" for i in range(24))
    )
    templates = root / "templates"
    result = invoke(
        "render",
        "--category",
        "scam",
        "--templates",
        templates,
        "--n-prompts",
        2,
        "--shots",
        3,
        "--n-entries",
        4,
        "--out",
        tmp_path / "prompts",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(
        (tmp_path / "prompts" / "scam_pos_v2" / "prompts.jsonl").read_text().splitlines()[0]
    )
    assert "Definition of scam messages: messages that try to trick people" in record["prompt"]
    result = invoke(
        "sft",
        "build",
        "--category",
        "scam",
        "--templates",
        templates,
        "--per-class",
        12,
        "--shots",
        3,
        "--n-entries",
        4,
        "--out",
        root / "dataset_info" / "sft",
        "--dataset-dir",
        root / "dataset_info",
    )
    assert result.exit_code == 0, result.output
    # The copied YAML trains on the new category's data as it is, from the fork's dataset_info.
    run_llamafactory_train(
        cpu_copy,
        {
            "model_name_or_path": tiny_model,
            "dataset_dir": root / "dataset_info",
            "output_dir": tmp_path / "adapter",
            "max_steps": 2,
        },
        log_path=tmp_path / "train.log",
    )
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
