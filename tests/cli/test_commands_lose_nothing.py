"""Property test over the commands that read user files and write outputs: for any input and any
--out, either the command fails before writing (one clear error, no traceback, --out as it was)
or its counts add up; and no input file ever changes.

Hypothesis writes the inputs from good rows, bad rows (wrong labels, missing fields, broken
JSON, rows a step rejected) and blank lines, and picks --out among a fresh folder, an input
itself, the inputs' folder, an existing file and a path below a file. The commands are the
real ones (`augment`, `generate --predictions`, `classify`, `register`), run in process.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"
N_PROMPTS = 6  # the fixture's first prompts: enough rows, fast enough for many examples

WORD = st.sampled_from(["they", "people", "all", "leave", "kind", "help", "我们", "\u200b", "ok"])
TEXT = st.lists(WORD, min_size=1, max_size=6).map(" ".join)
GOOD_LABEL = st.sampled_from([0, 1, "pos", "neg", "harmful", "harmless", True])
GOOD_ROW = st.builds(lambda t, y: {"text": t, "label": y}, TEXT, GOOD_LABEL)
BAD_ROW = st.one_of(
    st.builds(lambda t: {"text": t, "label": "maybe"}, TEXT),  # unknown label
    st.builds(lambda y: {"label": y}, GOOD_LABEL),  # no text
    st.builds(lambda t: {"text": t, "label": 1, "kind": "rejected"}, TEXT),  # a rejects row
    st.just("[1, 2]"),  # not an object
    st.just('{"text": "cut'),  # broken JSON
    st.just(""),  # blank line
)
# Good rows with at most one bad row among them: about half the files are clean, so both
# halves of the property (refused before writing; counts add up) are exercised.
LABELLED_FILE = st.builds(
    lambda good, bad, at: good[:at] + ([bad] if bad is not None else []) + good[at:],
    st.lists(GOOD_ROW, max_size=8),
    st.one_of(st.none(), st.none(), BAD_ROW),
    st.integers(0, 8),
)
OUT = st.sampled_from(["fresh", "fresh", "input", "inputs_folder", "a_file", "below_a_file"])


def _line(row) -> str:
    return row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)


def _state(path: Path):
    """What a path holds: bytes and mode of every file below it (None: nothing there)."""
    if not path.exists():
        return None
    if path.is_file():
        return (path.read_bytes(), path.stat().st_mode)
    return {str(p.relative_to(path)): _state(p) for p in sorted(path.rglob("*")) if p.is_file()}


def _out(choice: str, root: Path, inputs: list[Path]) -> Path:
    if choice == "input":
        return inputs[0]
    if choice == "inputs_folder":
        return inputs[0].parent
    if choice in ("a_file", "below_a_file"):
        blocker = root / "notes.txt"
        blocker.write_text("keep me\n")
        return blocker if choice == "a_file" else blocker / "out"
    return root / "out"


def _invoke(args: list) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def _check(result, inputs_before: dict, out: Path, out_before) -> bool:
    """The shared half of the property; True when the command succeeded."""
    for path, before in inputs_before.items():
        assert _state(path) == before, f"input {path} changed"
    if result.exit_code != 0:
        assert isinstance(result.exception, SystemExit), result.exception  # no traceback
        assert result.output.startswith("Error: ") or "Usage:" in result.output, result.output
        if out not in inputs_before:
            assert _state(out) == out_before, "a failed command changed --out"
        event("refused before writing")
        return False
    event("succeeded")
    return True


def _labelled_files(root: Path, files: list[list]) -> list[Path]:
    paths = []
    for n, rows in enumerate(files):
        path = root / "inputs" / f"data{n}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(_line(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(path)
    return paths


def _good(rows: list) -> int:
    return sum(isinstance(r, dict) and "text" in r and r.get("label") != "maybe" for r in rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    train=LABELLED_FILE,
    synthetic=LABELLED_FILE,
    out_choice=OUT,
)
@example(train=[{"text": "they leave", "label": 1}], synthetic=[], out_choice="fresh")
def test_augment_fails_before_writing_or_counts_add_up(train, synthetic, out_choice):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = _labelled_files(root, [train, synthetic])
        out = _out(out_choice, root, inputs)
        before, out_before = {p: _state(p) for p in inputs}, _state(out)
        result = _invoke(["augment", "--train", inputs[0], "--synthetic", inputs[1],
                          "--out", out])  # fmt: skip
        if _check(result, before, out, out_before):
            written = [json.loads(x) for x in out.read_text().splitlines()]
            read = _good(train) + _good(synthetic)
            dropped = read - len(written)
            assert f"read {read} = written {len(written)} + duplicates dropped {dropped}" in (
                result.output
            )
            assert {r["source"] for r in written} <= {"real", "synthetic"}


# One prediction per prompt, in order, each good or broken in one way; then, sometimes, the
# file cut short, a line doubled or two lines swapped.
PREDICTION_KIND = st.sampled_from(["good", "good", "good", "no_prompt", "predict_number", "broken"])
PREDICTIONS_FILE = st.builds(
    lambda kinds, texts, change: _changed(
        list(zip(range(N_PROMPTS), kinds, texts, strict=True)), change
    ),
    st.lists(PREDICTION_KIND, min_size=N_PROMPTS, max_size=N_PROMPTS),
    st.lists(TEXT, min_size=N_PROMPTS, max_size=N_PROMPTS),
    st.sampled_from([None, None, "cut", "double", "swap"]),
)


def _changed(lines: list, change: str | None) -> list:
    if change == "cut":
        return lines[:-1]
    if change == "double":
        return lines + lines[-1:]
    if change == "swap":
        return [lines[1], lines[0], *lines[2:]]
    return lines


@pytest.fixture(scope="module")
def prompts_and_answers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prompts")
    prompts = PROMPTS.read_text().splitlines()[:N_PROMPTS]
    (folder / "prompts.jsonl").write_text("\n".join(prompts) + "\n")
    answers = [json.loads(x) for x in PREDICTIONS.read_text().splitlines()[:N_PROMPTS]]
    return folder / "prompts.jsonl", answers


def _prediction_line(index: int, kind: str, text: str, answers: list[dict]) -> str:
    row = dict(answers[index])
    if kind == "good":
        row["predict"] = row["predict"] + "\n" + f"{N_PROMPTS + 1}. {text}"
    elif kind == "no_prompt":
        del row["prompt"]
    elif kind == "predict_number":
        row["predict"] = 7
    else:
        return '{"predict": "1. cut'
    return json.dumps(row, ensure_ascii=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(predictions=PREDICTIONS_FILE, out_choice=OUT)
@example(predictions=[(i, "good", "ok") for i in range(N_PROMPTS)], out_choice="fresh")
def test_generate_fails_before_writing_or_counts_add_up(
    prompts_and_answers, predictions, out_choice
):
    prompts, answers = prompts_and_answers
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        preds = root / "inputs" / "preds.jsonl"
        preds.parent.mkdir()
        preds.write_text("".join(_prediction_line(*p, answers) + "\n" for p in predictions))
        copied = shutil.copy(prompts, root / "inputs" / "prompts.jsonl")
        inputs = [preds, Path(copied)]
        out = _out(out_choice, root, inputs)
        before, out_before = {p: _state(p) for p in inputs}, _state(out)
        result = _invoke(["generate", "--prompts", copied, "--predictions", preds, "--out", out])
        if _check(result, before, out, out_before):
            report = json.loads((out / "report.json").read_text())
            accepted = (out / "accepted.jsonl").read_text().splitlines()
            rejected = (out / "rejected.jsonl").read_text().splitlines()
            assert (report["accepted"], report["rejected"]) == (len(accepted), len(rejected))
            assert report["entries_parsed"] == len(accepted) + len(rejected)
            assert len((out / "raw.jsonl").read_text().splitlines()) == N_PROMPTS


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from synthpack.models.classifier.mlp import TextClassifier

    texts = [f"you are a {w} idiot" for w in ("total", "real", "big")] + [
        f"thanks for the {w} help" for w in ("kind", "quick", "great")
    ]
    folder = tmp_path_factory.mktemp("clf") / "model"
    TextClassifier.fit(texts, [1, 1, 1, 0, 0, 0]).save(folder)
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(rows=LABELLED_FILE, out_choice=OUT)
@example(rows=[{"text": "they leave", "label": 1}], out_choice="fresh")
def test_classify_fails_before_writing_or_scores_every_text_once(classifier, rows, out_choice):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = _labelled_files(root, [rows])
        out = _out(out_choice, root, inputs)
        before, out_before = {p: _state(p) for p in inputs}, _state(out)
        result = _invoke(["classify", classifier, inputs[0], "--out", out])
        if _check(result, before, out, out_before):
            scored = [json.loads(x) for x in out.read_text().splitlines()]
            texts = [n for n, r in enumerate(rows, 1) if isinstance(r, dict) and "text" in r]
            assert [s["id"] for s in scored] == [str(n) for n in texts]
