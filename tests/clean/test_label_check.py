"""The label check: hand-made scores for the rules, then a real checker trained on the shipped
ToxiGen subset applied to real SmolLM2 answers through `synthpack generate --label-check`."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.clean.checker import load_checker
from synthpack.clean.label_check import LABEL_DISAGREES, LabelCheck, check_labels
from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.formats.texts import read_labelled

ANNOTATED = pack_dir("dataset_info") / "demo" / "toxigen" / "annotated"
PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _rows(*polarities: str) -> list[dict]:
    return [
        {"text": f"entry {i}", "label": int(p == "pos"), "polarity": p, "prompt_id": "x"}
        for i, p in enumerate(polarities)
    ]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- the rules, by hand


def test_reject_drops_entries_that_contradict_their_polarity_with_reason_and_score():
    rows = _rows("pos", "pos", "pos", "pos", "neg", "neg", "neg")
    scores = [0.9, 0.5, 0.49, 0.1, 0.05, 0.5, 0.7]
    checked = check_labels(rows, scores, LabelCheck(), "hand")  # both cuts 0.5
    # pos agrees at >= 0.5 (0.9, 0.5); neg agrees below 0.5 (0.05).
    assert [r["text"] for r in checked.kept] == ["entry 0", "entry 1", "entry 4"]
    assert [(r["text"], r["reason"], r["score"]) for r in checked.rejected] == [
        ("entry 2", LABEL_DISAGREES, 0.49),
        ("entry 3", LABEL_DISAGREES, 0.1),
        ("entry 5", LABEL_DISAGREES, 0.5),
        ("entry 6", LABEL_DISAGREES, 0.7),
    ]
    assert all("label" not in r for r in checked.rejected)
    assert len(checked.kept) + len(checked.rejected) == len(rows)
    report = checked.report
    assert report["checked"] == 7 and report["rejected"] == 4 and report["relabelled"] == 0
    assert report["agreement_rate"] == 0.5  # 2 of 4 positives called harmful
    pos, neg = report["by_polarity"]["pos"], report["by_polarity"]["neg"]
    assert (pos["checked"], pos["agree"], pos["rejected"]) == (4, 2, 2)
    assert (neg["checked"], neg["agree"], neg["rejected"]) == (3, 1, 2)
    assert pos["mean_score"] == pytest.approx((0.9 + 0.5 + 0.49 + 0.1) / 4)


def test_relabel_keeps_every_entry_with_the_checkers_label():
    rows = _rows("pos", "pos", "neg")
    checked = check_labels(rows, [0.2, 0.8, 0.9], LabelCheck(0.5, "relabel"))
    assert checked.rejected == []
    assert [r["label"] for r in checked.kept] == [0, 1, 1]
    assert [r.get("relabelled_from") for r in checked.kept] == ["pos", None, "neg"]
    # polarity follows the new label (readers refuse rows where they disagree); the prompt's
    # polarity stays in relabelled_from
    assert [r["polarity"] for r in checked.kept] == ["neg", "pos", "pos"]
    assert checked.report["relabelled"] == 2 and checked.report["rejected"] == 0
    assert checked.report["by_polarity"]["neg"]["relabelled"] == 1


def test_a_separate_cut_for_negatives_and_bad_settings():
    check = LabelCheck(threshold=0.3, negative_threshold=0.8)
    kept = check_labels(_rows("pos", "neg", "neg"), [0.35, 0.6, 0.85], check).kept
    assert [r["text"] for r in kept] == ["entry 0", "entry 1"]
    with pytest.raises(SynthpackError, match="Unknown label-check mode 'drop'.*relabel"):
        LabelCheck(mode="drop")
    with pytest.raises(SynthpackError, match="not between 0 and 1"):
        LabelCheck(threshold=1.5)


# ---------------------------------------------------------------- a real checker


@pytest.fixture(scope="module")
def checker_dir(tmp_path_factory) -> Path:
    """The shipped 600 real training texts, minus any also in the shipped eval set."""
    out = tmp_path_factory.mktemp("checker") / "model"
    result = run(
        "eval", "train-checker", "--train", ANNOTATED / "train.csv", "--exclude",
        ANNOTATED / "eval.csv", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "checker trained on" in result.output
    return out


@pytest.mark.parametrize(
    ("mode", "threshold"), [("reject", 0.4), ("relabel", 0.4), ("reject", None)]
)
def test_generate_with_label_check_counts_add_up(checker_dir, tmp_path, mode, threshold):
    out = tmp_path / "gen"
    cut = ["--label-check-threshold", threshold] if threshold is not None else []
    result = run(
        "generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out,
        "--label-check", checker_dir, "--label-check-mode", mode, *cut,
    )  # fmt: skip
    if threshold is None:  # the checker's own decision threshold, tuned on real data
        threshold = json.loads((checker_dir / "classifier.json").read_text())["threshold"]
    assert result.exit_code == 0, result.output
    assert "label check (" in result.output and "agreement rate" in result.output
    report = json.loads((out / "report.json").read_text())
    accepted, rejected = _lines(out / "accepted.jsonl"), _lines(out / "rejected.jsonl")
    assert report["entries_parsed"] == report["accepted"] + report["rejected"]
    assert (len(accepted), len(rejected)) == (report["accepted"], report["rejected"])
    for polarity, stats in report["by_polarity"].items():  # relabelled rows under their new one
        assert stats["accepted"] == sum(r["polarity"] == polarity for r in accepted)
    check = report["label_check"]
    assert check["mode"] == mode and check["threshold"] == threshold
    assert check["checked"] == sum(p["checked"] for p in check["by_polarity"].values()) > 0
    assert "synthpack MLP" in check["checker"]
    disagreeing = [r for r in rejected if r["reason"] == LABEL_DISAGREES]
    if mode == "reject":
        assert (
            len(disagreeing)
            == check["rejected"]
            == report["rejected_by_reason"].get(LABEL_DISAGREES, 0)
        )
        assert check["checked"] == len(accepted) + len(disagreeing)
        for row in disagreeing:
            if row["polarity"] == "pos":
                assert row["score"] < threshold
            else:
                assert row["score"] >= check["negative_threshold"] == 0.5
    else:
        assert not disagreeing and check["checked"] == len(accepted)
        relabelled = [r for r in accepted if "relabelled_from" in r]
        assert len(relabelled) == check["relabelled"]
        assert all(r["label"] == int(r["relabelled_from"] == "neg") for r in relabelled)
        # The relabelled set reads as labelled data (eval mlp, augment): label and polarity agree.
        assert len(read_labelled(out / "accepted.jsonl").labels) == len(accepted)
        alpaca = json.loads((out / "alpaca.json").read_text())
        kept_outputs = "\n".join(r["output"] for r in alpaca)
        assert not any(r["text"] in kept_outputs for r in relabelled)
    positives = check["by_polarity"]["pos"]
    assert check["agreement_rate"] == round(positives["agree"] / positives["checked"], 4)
    assert all("label_check_score" in r for r in accepted)
    for name in ("accepted.jsonl", "rejected.jsonl", "report.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600


def test_a_checker_trained_on_one_label_is_refused(checker_dir, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps({"text": f"t {i}", "label": 1}) + "\n" for i in range(9)))
    result = run("eval", "train-checker", "--train", one, "--out", tmp_path / "m")
    assert result.exit_code == 1
    assert f"{one}: a label checker needs harmful (1) and harmless (0) texts" in result.output
    assert "only label 1" in result.output
    # A saved model whose record says it saw one class (written by hand or another tool).
    forged = tmp_path / "forged"
    forged.mkdir()
    for name in ("weights.npz", "classifier.json"):
        (forged / name).write_bytes((checker_dir / name).read_bytes())
    meta = json.loads((forged / "classifier.json").read_text())
    meta["info"]["n_harmful"] = 0
    (forged / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(SynthpackError, match=r"classifier.json: info.n_harmful: .*one label"):
        load_checker(forged)
    result = run(
        "generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out",
        tmp_path / "gen", "--label-check", forged,
    )  # fmt: skip
    assert result.exit_code == 1 and "one label only" in result.output
    assert not (tmp_path / "gen").exists(), "the checker is refused before anything is written"


def test_something_that_is_not_a_classifier_is_named(tmp_path):
    with pytest.raises(SynthpackError, match="wants a classifier folder"):
        load_checker(PROMPTS)
    with pytest.raises(SynthpackError, match="not a toxicity classifier synthpack can read"):
        load_checker(tmp_path)
