"""`synthpack report` on a folder of hand-run commands: the step records make it read like a
demo's folder, whatever the commands' --out folders were called."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.common.step import find_records

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"
ANNOTATED = pack_dir("dataset_info") / "demo" / "toxigen" / "annotated"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.integration
def test_report_renders_a_folder_made_by_hand_run_commands(tmp_path):
    work = tmp_path / "by-hand"
    made = run(
        "generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS,
        "--out", work / "my-generations", "--register", work, "--name", "hate_mine",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    evaluated = run(
        "eval", "mlp", "--train", ANNOTATED / "train.csv", "--eval", ANNOTATED / "eval.csv",
        "--synthetic", f"mine={work / 'my-generations' / 'accepted.jsonl'}",
        "--out", work / "scores", "--folds", 3, "--bootstrap", 200,
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    steps = [record["step"] for _, record in find_records(work)]
    assert sorted(steps) == ["clean", "eval_mlp", "generate", "register"]

    result = run("report", work)
    assert result.exit_code == 0, result.output
    summary = json.loads((work / "summary.json").read_text())
    cleaned = json.loads((work / "my-generations" / "report.json").read_text())
    assert summary["generation"]["accepted"] == cleaned["accepted"]
    assert summary["generation"]["entries_parsed"] == cleaned["entries_parsed"]
    scored = summary["classifier"]["tfidf"]["domains"]["eval"]
    assert [r["name"] for r in scored["runs"]][:2] == ["real", "real+mine"]
    assert summary["settings"] is None and summary["stereoset"] is None
    assert {s["step"] for s in summary["steps"]} == {"generate", "clean", "register", "eval_mlp"}
    assert f"tfidf on eval: {scored['verdict']}" in result.output  # the demo's table too
    html = (work / "report.html").read_text()
    assert 'id="generation"' in html and 'id="classifier"' in html
    assert "Not run (step stereoset" in html
    accepted = [json.loads(x)["text"] for x in (work / "my-generations" / "accepted.jsonl").open()]
    assert not any(text in html for text in accepted if len(text) > 20), "no samples in reports"


def test_a_step_record_says_what_ran_on_what(tmp_path):
    out = tmp_path / "gen"
    made = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out)
    assert made.exit_code == 0, made.output
    record = json.loads((out / "clean.step.json").read_text())
    assert record["step"] == "clean" and record["seconds"] >= 0
    assert record["reads"]["raw"] == str(out / "raw.jsonl")
    assert record["reads"]["prompts"] == str(PROMPTS)
    assert set(record["writes"]) == {"accepted", "rejected", "alpaca", "report", "card"}
    assert record["settings"]["dedup"]["threshold"] == 0.7
    cleaned = json.loads((out / "report.json").read_text())
    assert record["report"]["accepted"] == cleaned["accepted"]
    generated = json.loads((out / "generate.step.json").read_text())
    assert generated["report"] == {"prompts": 6, "answers": 6, "source": "predictions"}


def test_a_folder_without_records_is_named(tmp_path):
    result = run("report", tmp_path)
    assert result.exit_code == 1
    assert "no finished step found" in result.output and str(tmp_path) in result.output
