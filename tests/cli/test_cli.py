"""The command line: discoverable commands and clear errors for a bad embedded model file."""

from __future__ import annotations

from click.testing import CliRunner

from synthpack.cli import main
from synthpack.demo.recipes import load_recipe
from synthpack.models.embedded import SMOLLM2


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    for command in ("model", "demo"):
        assert command in result.output
    assert "prepare" in run("model", "--help").output


def test_prepare_names_a_missing_gguf(tmp_path):
    missing = tmp_path / "nowhere.gguf"
    result = run("model", "prepare", "--gguf", str(missing), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert f"{missing}: GGUF file not found" in result.output


def test_prepare_names_a_file_that_is_not_gguf(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    result = run("model", "prepare", "--gguf", str(bogus), "--out", str(tmp_path / "m"))
    assert result.exit_code == 1
    assert f"{bogus}: not a GGUF file" in result.output
    assert not (tmp_path / "m").exists()


def test_prepare_names_a_truncated_gguf_and_leaves_nothing_behind(tmp_path):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(SMOLLM2.gguf().read_bytes()[: 256 * 1024])
    out = tmp_path / "m"
    result = run("model", "prepare", "--gguf", str(truncated), "--out", str(out))
    assert result.exit_code == 1
    assert f"{truncated}: could not read the GGUF model" in result.output
    assert not out.exists()
    assert list(tmp_path.glob(".m.*")) == []  # the half-built folder was removed


def test_demo_recipes_are_named_and_two_at_once_are_refused(tmp_path):
    out = tmp_path / "run"
    result = run("demo", "--size", "quick", "--full", "--out", str(out))
    assert result.exit_code == 2 and "quick and full name two recipes" in result.output
    result = run("demo", "--size", "huge", "--out", str(out))
    assert result.exit_code == 2 and "'default', 'quick', 'full'" in result.output
    result = run("demo", "--recipe", "qiuck", "--out", str(out))
    assert result.exit_code == 1 and "Unknown recipe 'qiuck'. Did you mean: quick" in result.output
    result = run("demo", "train_step=3", "--out", str(out))
    assert result.exit_code == 1 and "Unknown recipe field 'train_step'" in result.output
    assert "train_steps" in result.output
    assert not out.exists()


def test_recipes_are_listed_with_their_pipeline_model_and_size():
    result = run("recipes")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:4] for line in result.output.splitlines()[2:7]}
    assert rows == {
        "debias": ["debias", "smollm2", str(load_recipe("debias").train_steps)],
        "debias_large": ["debias", "smollm2", str(load_recipe("debias_large").train_steps)],
        "default": ["synthesis", "gemma3-270m", "36"],
        "full": ["synthesis", "gemma3-270m", "144"],
        "quick": ["synthesis", "smollm2", "12"],
    }


def test_the_default_recipe_is_gemma_and_quick_is_smollm2(tmp_path):
    """The steps before the model record each recipe's generator and settings in settings.json;
    key=value overrides change one field."""
    import json

    for size, generator, steps in (("default", "gemma3-270m", 36), ("quick", "smollm2", 12)):
        out = tmp_path / size
        result = run("demo", "--recipe", size, "--steps", "render-sft", "--out", str(out))
        assert result.exit_code == 0, result.output
        recorded = json.loads((out / "settings.json").read_text())["recipe"]
        assert (recorded["generator"], recorded["train_steps"]) == (generator, steps)
    out = tmp_path / "overridden"
    result = run("demo", "--recipe", "quick", "train_steps=3", "seed=2", "--steps", "render",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "settings.json").read_text())["recipe"]
    assert (recorded["train_steps"], recorded["seed"], recorded["n_entries"]) == (3, 2, 10)
