"""Outputs never replace inputs (issue 26, first kind): every step is checked in `run_step`
before any work; `augment` and `classify`, which are not steps, use the same check."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.step import refuse_clobbering


def test_an_output_that_is_an_input_or_holds_one_is_refused(tmp_path):
    data = tmp_path / "runs" / "data.jsonl"
    with pytest.raises(SynthpackError, match="would overwrite the input train .*choose another"):
        refuse_clobbering({"train": data, "unused": None}, {"augmented": data})
    with pytest.raises(SynthpackError, match="input train"):  # a folder written over it
        refuse_clobbering({"train": data}, {"models": tmp_path / "runs"})
    # A file written beside an input, or an input folder the outputs go into, is fine.
    refuse_clobbering({"train": data, "folder": tmp_path}, {"report": tmp_path / "report.json"})


def _labelled(path, n=40):
    rows = [{"text": f"you are a {w} idiot number {i}", "label": 1} for i, w in
            enumerate(["total", "real", "big", "huge"] * (n // 8))]  # fmt: skip
    rows += [{"text": f"thanks for the {w} help number {i}", "label": 0} for i, w in
             enumerate(["kind", "quick", "great", "fine"] * (n // 8))]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_augment_refuses_to_overwrite_its_training_file(tmp_path):
    train, synthetic = _labelled(tmp_path / "t.jsonl"), _labelled(tmp_path / "s.jsonl", 16)
    before = train.read_bytes()
    result = CliRunner().invoke(
        main, ["augment", "--train", str(train), "--synthetic", str(synthetic), "--out", str(train)]
    )
    assert result.exit_code == 1 and "would overwrite the input train 1" in result.output
    assert train.read_bytes() == before


def test_classify_keeps_ids_refuses_its_input_as_output_and_empty_files(tmp_path):
    from synthpack.models.classifier.mlp import TextClassifier

    rows = [json.loads(x) for x in _labelled(tmp_path / "t.jsonl").read_text().splitlines()]
    model = tmp_path / "clf"
    TextClassifier.fit([r["text"] for r in rows], [r["label"] for r in rows]).save(model)
    texts = tmp_path / "f.txt"
    texts.write_text("you are a total idiot\n\nthanks for the kind help\n")
    result = CliRunner().invoke(main, ["classify", str(model), str(texts)])
    assert result.exit_code == 0, result.output
    scored = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [r["id"] for r in scored] == ["1", "3"]  # the lines, not positions: B is line 3
    before = texts.read_bytes()
    clobber = CliRunner().invoke(main, ["classify", str(model), str(texts), "--out", str(texts)])
    assert clobber.exit_code == 1 and "would overwrite the input file" in clobber.output
    assert texts.read_bytes() == before
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    nothing = CliRunner().invoke(main, ["classify", str(model), str(empty)])
    assert nothing.exit_code == 1 and "no texts to score" in nothing.output


def test_a_step_refuses_before_work_when_its_out_folder_holds_its_input(tmp_path):
    """`eval debias --out DIR` writes DIR/pairs.jsonl: given DIR/pairs.jsonl as --pairs, it
    would replace its own input. It stops before loading any model."""
    out = tmp_path / "run"
    out.mkdir()
    pairs = out / "pairs.jsonl"
    pairs.write_text('{"original": "you idiot", "rewrite": "you are wrong"}\n')
    before = pairs.read_bytes()
    result = CliRunner().invoke(main, ["eval", "debias", "--pairs", str(pairs), "--toxicity",
                                       str(tmp_path), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 1 and "would overwrite the input pairs" in result.output
    assert pairs.read_bytes() == before and not (out / "report.json").exists()
