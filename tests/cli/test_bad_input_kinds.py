"""Issue 26's defect kinds, each reproduced as its probe found it and fixed where every command
passes: another run's generations are never replaced, rows are matched by identity, files know
what they are, and every check comes before the first write."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def predictions_run(tmp_path, name="gen"):
    out = tmp_path / name
    result = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out)
    assert result.exit_code == 0, result.output
    return out


# ---------------------------------------------------------- another run's work is kept


@pytest.mark.integration
def test_a_models_generations_are_not_replaced_by_predictions_without_restart(tiny_model, tmp_path):
    out = tmp_path / "g"
    args = ("generate", "--prompts", PROMPTS, "--model", tiny_model, "--out", out,
            "--max-new-tokens", "8", "--batch-size", "4", "--quiet")  # fmt: skip
    assert run(*args).exit_code == 0
    before = snapshot(out)
    result = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out)
    assert result.exit_code == 1
    assert "raw.jsonl: made by another run (" in result.output and "--restart" in result.output
    assert snapshot(out) == before  # generation_stats.json included: nothing was touched
    again = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out,
                "--restart")  # fmt: skip
    assert again.exit_code == 0, again.output
    assert {r["provenance"]["backend"] for r in records(out / "raw.jsonl")} == {
        "llamafactory-predictions"
    }


def test_answers_to_another_prompts_file_are_not_continued(tmp_path):
    out = predictions_run(tmp_path)
    before = snapshot(out)
    prompts = records(PROMPTS)
    for row in prompts:
        row["id"] = "other-" + row["id"]
    other = write(tmp_path / "other_prompts.jsonl", prompts)
    result = run("generate", "--prompts", other, "--predictions", PREDICTIONS, "--out", out)
    assert result.exit_code == 1
    assert "not in this prompts file" in result.output and "--restart" in result.output
    assert snapshot(out) == before


# ---------------------------------------------------------- matched by identity


def test_reordered_predictions_without_their_prompts_are_refused_not_matched_by_position(
    tmp_path,
):
    rows = records(PREDICTIONS)
    for row in rows:
        del row["prompt"]
    reordered = write(tmp_path / "preds.jsonl", rows[::-1])
    out = tmp_path / "gen"
    result = run("generate", "--prompts", PROMPTS, "--predictions", reordered, "--out", out)
    assert result.exit_code == 1
    assert f"{reordered}:1: prompt: missing (it matches each answer" in result.output
    assert not out.exists()


def test_reordered_predictions_with_their_prompts_name_the_first_line_that_differs(tmp_path):
    rows = records(PREDICTIONS)
    reordered = write(tmp_path / "preds.jsonl", rows[1:] + rows[:1])
    result = run("generate", "--prompts", PROMPTS, "--predictions", reordered, "--out",
                 tmp_path / "gen")  # fmt: skip
    assert result.exit_code == 1
    assert f"{reordered}:1: prompt: does not contain the prompt of line 1" in result.output


# ---------------------------------------------------------- files know what they are


def _real(tmp_path):
    rows = [{"text": f"you are a {w} idiot number {i}", "label": 1} for i, w in
            enumerate(["total", "real", "big", "huge"] * 10)]  # fmt: skip
    rows += [{"text": f"thanks for the {w} help number {i}", "label": 0} for i, w in
             enumerate(["kind", "quick", "great", "fine"] * 10)]  # fmt: skip
    return write(tmp_path / "train.jsonl", rows[::2]), write(tmp_path / "eval.jsonl", rows[1::2])


def test_rejected_rows_are_never_training_data(tmp_path):
    out = predictions_run(tmp_path)
    rejected = out / "rejected.jsonl"
    assert {r["kind"] for r in records(rejected)} == {"rejected"}
    train, evaluation = _real(tmp_path)
    result = run("eval", "mlp", "--train", train, "--eval", evaluation, "--synthetic",
                 f"gen={rejected}", "--out", tmp_path / "mlp")  # fmt: skip
    assert result.exit_code == 1
    assert f'{rejected}: {len(records(rejected))} row(s) are marked "kind": "rejected"' in (
        result.output
    )
    assert not (tmp_path / "mlp").exists()
    augmented = tmp_path / "aug.jsonl"
    result = run("augment", "--train", train, "--synthetic", rejected, "--out", augmented)
    assert result.exit_code == 1 and '"kind": "rejected"' in result.output
    assert not augmented.exists()
    accepted = run("augment", "--train", train, "--synthetic", out / "accepted.jsonl",
                   "--out", augmented)  # fmt: skip
    assert accepted.exit_code == 0, accepted.output


def test_an_empty_synthetic_set_is_an_error_not_a_verdict(tmp_path):
    train, evaluation = _real(tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run("eval", "mlp", "--train", train, "--eval", evaluation, "--synthetic",
                 f"a={empty}", "--out", tmp_path / "mlp")  # fmt: skip
    assert result.exit_code == 1
    assert f"{empty}: synthetic set 'a' has no texts; nothing to compare" in result.output
    assert "no significant change" not in result.output


# ---------------------------------------------------------- checks before the first write


@pytest.mark.parametrize("broken", ["name", "dataset_info"])
def test_a_bad_registration_fails_before_anything_is_written(tmp_path, broken):
    dataset_dir = tmp_path / "data"
    dataset_dir.mkdir()
    info = dataset_dir / "dataset_info.json"
    info.write_text('{"kept": {"file_name": "x.json"}' if broken == "dataset_info" else "{}")
    before = info.read_bytes()
    name = "bad name, with a comma" if broken == "name" else "good_name"
    out = tmp_path / "gen"
    result = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out,
                 "--register", dataset_dir, "--name", name)  # fmt: skip
    assert result.exit_code == 1
    expected = "dataset name 'bad name, with a comma'" if broken == "name" else f"{info}:1"
    assert expected in result.output
    assert not out.exists() and info.read_bytes() == before


def test_eval_mlp_with_an_out_that_is_a_file_fails_before_training(tmp_path):
    train, evaluation = _real(tmp_path)
    out = tmp_path / "results.txt"
    out.write_text("keep me\n")
    result = run("eval", "mlp", "--train", train, "--eval", evaluation, "--out", out)
    assert result.exit_code == 1
    assert f"{out}: is a file" in result.output and "Traceback" not in result.output
    assert "real:" not in result.output  # nothing was read or trained
    assert out.read_text() == "keep me\n"


def test_render_refuses_more_entries_than_generate_accepts(tmp_path):
    from synthpack.prompts.render import MAX_N_ENTRIES

    out = tmp_path / "prompts"
    result = run("render", "--category", "hate", "--n-entries", MAX_N_ENTRIES + 1, "--out", out)
    assert result.exit_code == 2 and f"{MAX_N_ENTRIES + 1} is not in the range" in result.output
    assert not out.exists()


def test_a_copied_run_is_continued_as_its_own(tmp_path):
    """The same command on a copy of a finished folder changes nothing (not a refusal)."""
    out = predictions_run(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    result = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", copy)
    assert result.exit_code == 0, result.output
    assert (copy / "accepted.jsonl").read_bytes() == (out / "accepted.jsonl").read_bytes()
