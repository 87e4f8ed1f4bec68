"""Evaluation tasks (the pack's eval/ folder): named data and settings that `eval mlp` and
`eval stereoset` take with --task, command-line options winning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.evaluate.run import domains_of
from synthpack.evaluate.tasks import list_tasks, load_task

DEMO = pack_dir("dataset_info") / "demo"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_shipped_tasks_name_the_shipped_data():
    assert list_tasks() == ["stereoset_demo", "toxigen_hate"]
    mlp = load_task("toxigen_hate", "mlp")
    assert mlp["train"] == (DEMO / "toxigen" / "annotated" / "train.csv").resolve()
    assert mlp["eval"] == (DEMO / "toxigen" / "annotated" / "eval.csv").resolve()
    assert (mlp["features"], mlp["folds"], mlp["bootstrap"]) == ("tfidf", 10, 1000)
    stereo = load_task("stereoset_demo", "stereoset")
    assert stereo["data"].name == "dev_intrasentence_300.json" and stereo["data"].is_file()
    result = run("eval", "tasks")
    assert result.exit_code == 0
    assert [line.split()[:2] for line in result.output.splitlines()[2:4]] == [
        ["stereoset_demo", "stereoset"],
        ["toxigen_hate", "mlp"],
    ]


def test_a_bad_task_names_the_file_and_every_field(tmp_path):
    with pytest.raises(SynthpackError, match="Unknown evaluation task 'toxigen'. Did you mean"):
        load_task("toxigen", "mlp")
    with pytest.raises(SynthpackError, match="for `synthpack eval mlp`, not `eval stereoset`"):
        load_task("toxigen_hate", "stereoset")
    task = tmp_path / "mine.yaml"
    task.write_text("command: mlp\ntrain: nowhere.csv\nfolds: 3\nfold: 4\n")
    with pytest.raises(SynthpackError) as error:
        load_task(task, "mlp")
    message = str(error.value)
    assert message.startswith(f"{task}: 2 problem(s):")
    assert f"train: {tmp_path / 'nowhere.csv'} not found" in message
    assert "fold: Unknown key 'fold'. Did you mean: folds?" in message


@pytest.mark.integration
def test_eval_mlp_takes_what_the_options_leave_out_from_the_task(tmp_path):
    out = tmp_path / "eval"
    result = run("eval", "mlp", "--task", "toxigen_hate", "--folds", 2, "--bootstrap", 50,
                 "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((out / "eval_mlp.step.json").read_text())
    settings = record["settings"]
    assert settings["train"] == str((DEMO / "toxigen" / "annotated" / "train.csv").resolve())
    assert settings["config"]["folds"] == 2 and settings["n_boot"] == 50  # options win
    assert settings["config"]["seed"] == 0 and settings["features"] == "tfidf"  # the task's
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["eval"]["n"] == 1000
    missing = run("eval", "mlp", "--out", out)
    assert missing.exit_code == 2 and "Missing option --train and --eval (or give --task)" in (
        missing.output
    )


@pytest.mark.integration
def test_eval_stereoset_runs_the_shipped_task(tiny_model, tmp_path):
    out = tmp_path / "stereoset"
    result = run("eval", "stereoset", "--task", "stereoset_demo", "--model", tiny_model,
                 "--limit", 6, "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["intrasentence"]["examples"] == 6
    assert report["meta"]["data"] == str(load_task("stereoset_demo", "stereoset")["data"])


def _task_with_extra_eval(tmp_path, extra: str) -> Path:
    task = tmp_path / "two_domains.yaml"
    annotated = DEMO / "toxigen" / "annotated"
    task.write_text(
        f"command: mlp\ntrain: {annotated / 'train.csv'}\neval: {annotated / 'eval.csv'}\n"
        f"eval_name: toxigen\n{extra}"
    )
    return task


def test_a_task_names_its_extra_domains_relative_to_itself(tmp_path):
    built = run("eval", "transfer-set", "--per-class", 40, "--out", tmp_path / "data")
    assert built.exit_code == 0, built.output
    rows = [json.loads(line) for line in (tmp_path / "data" / "transfer_eval.jsonl").open()]
    assert [sum(r["label"] == label for r in rows) for label in (0, 1)] == [40, 40]
    task = _task_with_extra_eval(tmp_path, "extra_eval:\n  paradetox: data/transfer_eval.jsonl\n")
    fields = load_task(task, "mlp")
    assert fields["eval_name"] == "toxigen"
    assert fields["extra_eval"] == [f"paradetox={(tmp_path / 'data' / 'transfer_eval.jsonl')}"]
    bad = _task_with_extra_eval(tmp_path, "extra_eval:\n  other: missing.jsonl\n")
    with pytest.raises(SynthpackError, match=r"extra_eval\.other: .*missing.jsonl not found"):
        load_task(bad, "mlp")
    listed = _task_with_extra_eval(tmp_path, "extra_eval: [data/transfer_eval.jsonl]\n")
    with pytest.raises(SynthpackError, match="extra_eval: expected a mapping of NAME: path"):
        load_task(listed, "mlp")


@pytest.mark.integration
def test_eval_mlp_scores_the_task_s_extra_domain(tmp_path):
    assert run("eval", "transfer-set", "--per-class", 40, "--out", tmp_path / "data").exit_code == 0
    task = _task_with_extra_eval(tmp_path, "extra_eval:\n  paradetox: data/transfer_eval.jsonl\n")
    out = tmp_path / "eval"
    result = run("eval", "mlp", "--task", task, "--folds", 2, "--bootstrap", 50, "--out", out)
    assert result.exit_code == 0, result.output
    domains = domains_of(json.loads((out / "report.json").read_text()))
    assert list(domains) == ["toxigen", "paradetox"]
    assert domains["toxigen"]["n"] == 1000 and domains["paradetox"]["n"] == 80
