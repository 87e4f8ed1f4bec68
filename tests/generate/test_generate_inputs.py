"""The prompts and predictions files of `synthpack generate`, fed the bad inputs users write.

Each case asserts the exact outcome: the value accepted (a polarity spelled `positive` is
`pos`, label 1), or one error naming file, line and field; never a traceback, never an output
folder left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def generate(tmp_path, prompts=PROMPTS, predictions=PREDICTIONS):
    out = tmp_path / "out"
    return run("generate", "--prompts", prompts, "--predictions", predictions, "--out", out), out


def assert_one_error(result, out: Path, expected: str) -> None:
    """Exit 1, the expected `PATH:LINE: FIELD: message` in the output, no traceback, no out."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # click's clean exit, not a crash
    assert "Traceback" not in result.output
    assert expected in result.output, result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "pos_word, neg_word",
    [("positive", "negative"), ("harmful", "harmless"), ("Toxic", "non-toxic"), (1, 0)],
)
def test_polarity_spellings_give_the_same_labels_as_pos_and_neg(tmp_path, pos_word, neg_word):
    rows = records(PROMPTS)
    spelled = [{**r, "polarity": pos_word if r["polarity"] == "pos" else neg_word} for r in rows]
    result, out = generate(tmp_path, write(tmp_path / "spelled.jsonl", spelled))
    assert result.exit_code == 0, result.output
    reference, ref_out = generate(tmp_path / "ref")
    assert reference.exit_code == 0, reference.output
    accepted = records(out / "accepted.jsonl")
    assert accepted == records(ref_out / "accepted.jsonl")
    polarity_of_prompt = {r["id"]: r["polarity"] for r in rows}
    assert {r["label"] for r in accepted} == {0, 1}
    for row in accepted:  # every harmful entry is labelled harmful
        assert row["label"] == (1 if polarity_of_prompt[row["prompt_id"]] == "pos" else 0)
        assert row["polarity"] == polarity_of_prompt[row["prompt_id"]]


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"polarity": "maybe"}, "polarity", "unknown label 'maybe'. Available: harmful: 1,"),
        ({"polarity": ""}, "polarity", "missing"),
        ({"polarity": None}, "polarity", "missing"),
        ({"polarity": ["pos"]}, "polarity", "expected a label word or 0/1, got a JSON list"),
        ({"polarity": 2}, "polarity", "unknown label 2."),
        ({"version": "v9x"}, "version", "unknown version 'v9x'. Available: v1, v2, v3"),
        ({"version": 3.5}, "version", "unknown version 3.5."),
        ({"category": "Hate Speech"}, "category", "'Hate Speech' is not a category name"),
        ({"category": 7}, "category", "expected a non-empty string, got a number"),
        ({"n_entries": "ten"}, "n_entries", "expected a whole number from 1 to 1000, got 'ten'"),
        ({"n_entries": 0}, "n_entries", "expected a whole number from 1 to 1000, got 0"),
        ({"n_entries": True}, "n_entries", "expected a whole number from 1 to 1000, got True"),
        ({"examples": "one text"}, "examples", "expected a list of strings, got a string"),
        ({"examples": [1, 2]}, "examples", "expected a list of strings, got a list"),
        ({"prompt": ""}, "prompt", "expected a non-empty string, got an empty string"),
        ({"prompt": {"text": "x"}}, "prompt", "expected a non-empty string, got an object"),
        ({"id": None}, "id", "expected a non-empty string, got nothing"),
    ],
)
def test_a_bad_prompt_field_is_named_by_file_line_and_field(tmp_path, change, field, message):
    rows = records(PROMPTS)
    rows[1] = {**rows[1], **change}
    bad = write(tmp_path / "prompts.jsonl", rows)
    result, out = generate(tmp_path, bad)
    assert_one_error(
        result, out, f"{bad}: 1 problem(s) in 1 row(s):\n  {bad}:2: {field}: {message}"
    )


def test_two_problems_in_one_record_count_as_one_row(tmp_path):
    rows = records(PROMPTS)
    rows[1] = {**rows[1], "polarity": "maybe", "n_entries": 0}
    bad = write(tmp_path / "prompts.jsonl", rows)
    result, out = generate(tmp_path, bad)
    assert_one_error(result, out, f"{bad}: 2 problem(s) in 1 row(s):\n  {bad}:2: polarity:")
    assert f"{bad}:2: n_entries: expected a whole number" in result.output


def test_every_bad_prompt_is_reported_at_once(tmp_path):
    rows = records(PROMPTS)
    rows[0]["polarity"] = "harmfull"
    del rows[2]["examples"]
    rows[4]["id"] = rows[3]["id"]
    bad = write(tmp_path / "prompts.jsonl", rows)
    result, out = generate(tmp_path, bad)
    assert_one_error(result, out, f"{bad}: 3 problem(s) in 3 row(s):")
    assert f"{bad}:1: polarity: unknown label 'harmfull'" in result.output
    assert f"{bad}:3: examples: missing" in result.output
    assert f"{bad}:5: id: the same id as line 4" in result.output


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty file (no JSON records)"),
        (b"\n\n  \n", "empty file (no JSON records)"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
            ":1: not UTF-8 text (byte 0x89 at offset 0)",
        ),
        (b'{"id": "a"\n', ":1: not valid JSON"),
        (b"[1, 2]\n", ":1: not a JSON object"),
    ],
)
def test_an_empty_binary_or_broken_prompts_file_is_one_clear_error(tmp_path, content, expected):
    bad = tmp_path / "prompts.jsonl"
    bad.write_bytes(content)
    result, out = generate(tmp_path, bad)
    assert_one_error(result, out, f"{bad}")
    assert expected in result.output


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"predict": None}, "predict", "expected a string, got nothing"),
        ({"predict": ["1. a list", "2. of entries"]}, "predict", "expected a string, got a list"),
        ({"predict": 42}, "predict", "expected a string, got a number"),
        ({"stopped": "yes"}, "stopped", "expected true or false, got 'yes'"),
        ({"prompt": 3}, "prompt", "expected a string, got a number"),
    ],
)
def test_a_bad_prediction_field_is_named_without_showing_its_text(tmp_path, change, field, message):
    rows = records(PREDICTIONS)
    rows[2] = {**rows[2], **change}
    bad = write(tmp_path / "predictions.jsonl", rows)
    result, out = generate(tmp_path, predictions=bad)
    assert_one_error(result, out, f"{bad}:3: {field}: {message}")
    assert "of entries" not in result.output  # generated text is never echoed


def test_a_binary_predictions_file_names_the_line_and_byte(tmp_path):
    bad = tmp_path / "generated_predictions.jsonl"
    bad.write_bytes(PREDICTIONS.read_bytes()[:200] + b"\n\xff\xfe\x00binary\x00")
    result, out = generate(tmp_path, predictions=bad)
    assert_one_error(result, out, f"{bad}:2: not UTF-8 text (byte 0xff at offset 201)")


def test_predictions_that_do_not_line_up_leave_no_folder(tmp_path):
    bad = write(tmp_path / "predictions.jsonl", records(PREDICTIONS)[:-1])
    result, out = generate(tmp_path, predictions=bad)
    assert_one_error(result, out, f"{bad}: 5 predictions for 6 prompts")


def test_format_and_control_characters_never_reach_the_outputs(tmp_path):
    rows = records(PREDICTIONS)
    rows[0]["predict"] = rows[0]["predict"].replace(" ", " \u200b", 3).replace("e", "e\x00", 2)
    rows[0]["predict"] = "\ufeff\u202e" + rows[0]["predict"]
    prompts = records(PROMPTS)
    for prompt, row in zip(prompts, rows, strict=True):
        prompt["prompt"] = prompt["prompt"][:20] + "\x00\u202e" + prompt["prompt"][20:]
        row["prompt"] = prompt["prompt"]  # LLaMA-Factory repeats the prompt it was given
    result, out = generate(
        tmp_path, write(tmp_path / "q.jsonl", prompts), write(tmp_path / "p.jsonl", rows)
    )
    assert result.exit_code == 0, result.output
    cleaned = {p["prompt"][:20] + " " + p["prompt"][22:] for p in prompts}  # NUL: a space
    alpaca = json.loads((out / "alpaca.json").read_text())
    assert alpaca and all(r["instruction"] in cleaned for r in alpaca)
    for name in ("accepted.jsonl", "rejected.jsonl", "alpaca.json"):
        text = (out / name).read_text()
        for char in ("\x00", "\u200b", "\u202e", "\ufeff"):
            assert char not in text and json.dumps(char)[1:-1] not in text, (name, char)


def test_a_runaway_generation_is_capped_and_counted(tmp_path):
    rows = records(PREDICTIONS)
    prompt_id = records(PROMPTS)[0]["id"]
    n_entries = records(PROMPTS)[0]["n_entries"]
    # 20,000 entries on one line (5 times what the issue saw per megabyte), asked for 10.
    rows[0]["predict"] = " ".join(f"{i}. Entry number {i} about the weather today." for i in
                                  range(1, 20_001))  # fmt: skip
    result, out = generate(tmp_path, predictions=write(tmp_path / "p.jsonl", rows))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rejected = [r for r in records(out / "rejected.jsonl") if r["prompt_id"] == prompt_id]
    excess = [r for r in rejected if r["reason"] == "excess"]
    cut = sum(r["reason"] == "truncated" for r in rejected)  # the last entry, when cut off
    assert report["rejected_by_reason"]["excess"] == len(excess) == 20_000 - 3 * n_entries - cut
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
