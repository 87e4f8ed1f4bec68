"""Issue 26's probe ("nothing lost, nothing silently mislabelled"): hostile and malformed input
to every command, the way a careless user or a script gives it, each case a row of one table.

Every case states what the command must do, and `test_probe` checks the issue's guarantees:
1. the exit status: 0 only when the command did the right thing, else 1 (2 for a usage
   error) with one `Error:` line, no traceback, naming the file (or the option) at fault;
2. no input changes, and on failure --out is as it was (not created, or unchanged);
3. no text from a hostile input reaches the terminal: their texts carry MARK, which no
   output may show (short label-like values may be quoted; texts never);
4. on messy but valid input the command succeeds and its own count line adds up.

Everything runs in process (click's CliRunner), without a model: the cases of the commands
that load one stop before it. `tests/cli/test_bad_input_kinds.py` holds the stories behind
the defect kinds; a new hostile input belongs here, as one more row.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, REPO

from synthpack.cli import main

MARK = "ZZLEAK"  # in every text of a hostile input; never in any output
PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"
STEREOSET = REPO / "dataset_info" / "demo" / "stereoset" / "dev_intrasentence_300.json"
CROWS_PAIRS = REPO / "dataset_info" / "demo" / "crows_pairs" / "crows_pairs_300.csv"
LORA_CONFIG = REPO / "llamafactory_configs" / "smollm2_lora_sft_hate.yaml"


@dataclass
class Expect:
    """What one invocation must do.

    `error` must be in the one `Error:` line (the file, its line or field, or the option);
    `says` anywhere in the output (a problem listed under that line). `inputs` must not
    change; `out` must be as it was when the command fails. `counts(output, workspace)`
    checks a success: its count line adds up, the files agree with it.
    """

    args: tuple
    code: int
    error: str = ""
    says: str = ""
    inputs: tuple = ()
    out: Path | None = None
    counts: Callable[[str], None] | None = None


class Workspace:
    """A case's folder and the hostile files it writes there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    def raw(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def text(self, name: str, text: str) -> Path:
        return self.raw(name, text.encode("utf-8"))

    def jsonl(self, name: str, rows: list) -> Path:
        lines = (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        return self.text(name, "".join(line + "\n" for line in lines))

    def json(self, name: str, data) -> Path:
        return self.text(name, json.dumps(data, indent=2))

    def folder(self, name: str) -> Path:
        path = self.path(name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def labelled(self, n: int = 40) -> tuple[Path, Path]:
        """Real-looking labelled train and eval sets, every text marked."""
        rows = [{"text": f"{MARK} you are a {w} idiot number {i}", "label": 1}
                for i, w in enumerate(["total", "real", "big", "huge"] * (n // 8))]  # fmt: skip
        rows += [{"text": f"{MARK} thanks for the {w} help number {i}", "label": 0}
                 for i, w in enumerate(["kind", "quick", "great", "fine"] * (n // 8))]  # fmt: skip
        return self.jsonl("train.jsonl", rows[::2]), self.jsonl("eval.jsonl", rows[1::2])

    def predictions(self, change: Callable[[list[dict]], list[dict]]) -> Path:
        rows = [json.loads(x) for x in PREDICTIONS.read_text().splitlines()]
        return self.jsonl("preds.jsonl", change(rows))

    def pack(self) -> Path:
        """A copy of the pack's editable parts, for `category new --root`."""
        root = self.path("pack")
        shutil.copytree(REPO / "templates", root / "templates")
        shutil.copytree(REPO / "llamafactory_configs", root / "llamafactory_configs")
        (root / "dataset_info").mkdir()
        shutil.copy(REPO / "dataset_info" / "dataset_info.json", root / "dataset_info")
        return root

    def debias_run(self, name: str, report=None, rows=None) -> Path:
        """A folder as `eval debias` leaves it: report.json and per-text pairs.jsonl."""
        folder = self.folder(name)
        if report is None:
            report = {"safety": {"threshold": 0.5, "unsafe_percent_before": 60.0}}
        if isinstance(report, str):
            self.text(f"{name}/report.json", report)
        else:
            self.json(f"{name}/report.json", report)
        if rows is None:
            rows = [{"id": str(i), "original": f"{MARK} original {i}", "rewrite": f"{MARK} {i}",
                     "unsafe_after": 0.1 * i, "similarity": 0.8, "fluent": True, "j": 0.5}
                    for i in range(6)]  # fmt: skip
        self.jsonl(f"{name}/pairs.jsonl", rows)
        return folder


CASES: list = []


def case(id_: str, xfail: str | None = None):
    """Add the decorated case builder to the table under `id_` (strict xfail: a known defect
    whose fix is not small; the reason says what is wrong)."""

    def add(build: Callable[[Workspace], Expect]):
        marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
        CASES.append(pytest.param(build, id=id_, marks=marks))
        return build

    return add


def state(path: Path | None):
    """What a path holds: bytes and mode of a file, of every file below a folder; None."""
    if path is None or not path.exists():
        return None
    if path.is_file():
        return (path.read_bytes(), path.stat().st_mode)
    return {str(p.relative_to(path)): state(p) for p in sorted(path.rglob("*")) if p.is_file()}


def number(pattern: str, output: str) -> list[int]:
    found = re.search(pattern, output)
    assert found, f"no count line matching {pattern!r} in:\n{output}"
    return [int(g) for g in found.groups()]


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("build", CASES)
def test_probe(build, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default output (runs/...) lands here, never in the repo
    expect = build(Workspace(tmp_path))
    inputs = {Path(p): state(Path(p)) for p in expect.inputs}
    out_before = state(expect.out)
    result = CliRunner().invoke(main, [str(a) for a in expect.args])
    output = result.output
    assert result.exit_code == expect.code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output and MARK not in output, output
    for path, before in inputs.items():
        assert state(path) == before, f"input {path} changed"
    if expect.code:
        errors = [line for line in output.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, output
        assert expect.error and expect.error in errors[0], output
        assert expect.says in output, output
        assert state(expect.out) == out_before, "a failed command changed --out"
    elif expect.counts:
        expect.counts(output)


# ------------------------------------------------------------------ the command groups


@case("group-unknown-command")
def _(w):
    return Expect(("evall",), 2, "No such command 'evall'. Did you mean 'eval'?")


@case("eval-unknown-subcommand")
def _(w):
    return Expect(("eval", "mlpp"), 2, "No such command 'mlpp'. Did you mean 'mlp'?")


@case("eval-tasks-extra-argument")
def _(w):
    return Expect(("eval", "tasks", "toxigen_hate"), 2, "unexpected extra argument")


# ------------------------------------------------------------------ render


@case("render-unknown-category")
def _(w):
    out = w.path("prompts")
    return Expect(("render", "--category", "hat", "--out", out), 1,
                  "Unknown category 'hat'. Did you mean: hate?", out=out)  # fmt: skip


@case("render-unknown-version")
def _(w):
    out = w.path("prompts")
    return Expect(("render", "--category", "hate", "--versions", "v9", "--out", out), 1,
                  "Unknown version 'v9'. Available: v1, v2, v3", out=out)  # fmt: skip


@case("render-empty-polarity")
def _(w):
    out = w.path("prompts")
    return Expect(("render", "--category", "hate", "--polarity", "", "--out", out), 1,
                  "--versions and --polarity name no prompt set", out=out)  # fmt: skip


@case("render-rejects-file-as-seeds")
def _(w):
    rejects = w.jsonl("gen/rejected.jsonl", [
        {"text": f"{MARK} dropped entry {i}", "label": 1, "reason": "meta", "kind": "rejected"}
        for i in range(8)])  # fmt: skip
    out = w.path("prompts")
    return Expect(("render", "--category", "hate", "--seeds", rejects, "--out", out), 1,
                  f'{rejects}: 8 row(s) are marked "kind": "rejected"', inputs=(rejects,),
                  out=out)  # fmt: skip


@case("render-seed-csv-columns-swapped")
def _(w):
    seeds = w.text("seeds.csv", f"label,text\n{MARK} they should all be sent away,1\n")
    out = w.path("prompts")
    return Expect(("render", "--category", "hate", "--seeds", seeds, "--out", out), 1,
                  str(seeds), f"{seeds}:2: label: unknown label <a text of", inputs=(seeds,),
                  out=out)  # fmt: skip


@case("render-broken-dataset-info-in-out")
def _(w):
    out = w.folder("prompts")
    info = w.text("prompts/dataset_info.json", '{"hate_pos_v1": {"file_name": "x.json"},}')
    return Expect(("render", "--category", "hate", "--versions", "v1", "--n-prompts", "2",
                   "--out", out), 1, f"{info}:1: not valid JSON", out=out)  # fmt: skip


@case("render-n-entries-out-of-range")
def _(w):
    out = w.path("prompts")
    return Expect(("render", "--category", "hate", "--n-entries", "0", "--out", out), 2,
                  "'--n-entries': 0 is not in the range 1<=x<=1000", out=out)  # fmt: skip


@case("render-out-is-a-file")
def _(w):
    out = w.text("notes.txt", "keep me\n")
    return Expect(("render", "--category", "hate", "--versions", "v1", "--out", out), 1,
                  f"{out}: is a file", out=out)  # fmt: skip


@case("render-same-version-twice-renders-it-once")
def _(w):
    out = w.path("prompts")

    def counts(output):
        assert number(r"hate_pos_v1 +(\d+) ", output) == [3]
        assert [p.name for p in out.iterdir() if p.is_dir()] == ["hate_pos_v1"]
        assert len(records(out / "all.jsonl")) == 3

    return Expect(("render", "--category", "hate", "--versions", "v1,V1", "--polarity",
                   "pos,positive", "--n-prompts", "3", "--out", out), 0, counts=counts)  # fmt: skip


# ------------------------------------------------------------------ sft build / sft debias


@case("sft-build-category-and-mixture")
def _(w):
    out = w.path("sft")
    return Expect(("sft", "build", "--category", "hate", "--mixture", "mixture", "--out", out),
                  1, "give exactly one of --category NAME or --mixture NAME", out=out)  # fmt: skip


@case("sft-build-val-ratio-out-of-range")
def _(w):
    out = w.path("sft")
    return Expect(("sft", "build", "--category", "hate", "--val-ratio", "1.5", "--out", out), 1,
                  "--val-ratio in [0, 1)", out=out)  # fmt: skip


@case("sft-build-broken-dataset-info")
def _(w):
    out = w.folder("sft")
    info = w.json("sft/dataset_info.json", ["not", "an", "object"])
    return Expect(("sft", "build", "--category", "hate", "--per-class", "1", "--n-entries", "3",
                   "--shots", "1", "--out", out), 1,
                  f"{info}:1: expected a JSON object of dataset entries", out=out)  # fmt: skip


@case("sft-build-folder-as-seed-file")
def _(w):
    seeds = w.folder("seeds")
    out = w.path("sft")
    return Expect(("sft", "build", "--category", "hate", "--pos", seeds, "--out", out), 1,
                  f"{seeds}: a folder, not a seed file", out=out)  # fmt: skip


def _pairs_tsv(w, name: str, rows: list[str], header: str = "toxic\tneutral1") -> Path:
    return w.text(name, header + "\n" + "".join(r + "\n" for r in rows))


@case("sft-debias-row-with-more-cells-than-header")
def _(w):
    rows = [f"{MARK} bad {i}\t{MARK} good {i}" for i in range(9)]
    rows.insert(4, f"{MARK} bad, unquoted\t{MARK} good\t{MARK} stray cell")
    source = _pairs_tsv(w, "pairs.tsv", rows)
    out = w.path("sft")
    return Expect(("sft", "debias", source, "--out", out), 1, str(source),
                  f"{source}:6: 3 cells, but the header names 2 columns", inputs=(source,),
                  out=out)  # fmt: skip


@case("sft-debias-no-rewrite-anywhere")
def _(w):
    source = _pairs_tsv(w, "pairs.tsv", [f"{MARK} bad {i}\t" for i in range(10)])
    out = w.path("sft")
    return Expect(("sft", "debias", source, "--out", out), 1,
                  f"{source}: no (source, rewrite) pair to train on; all 10 row(s) rejected",
                  inputs=(source,), out=out)  # fmt: skip


@case("sft-debias-file-name-makes-a-bad-dataset-name")
def _(w):
    source = _pairs_tsv(w, "my pairs.tsv", [f"{MARK} bad {i}\t{MARK} good {i}" for i in range(9)])
    out = w.path("sft")
    return Expect(("sft", "debias", source, "--out", out), 1,
                  "dataset name 'debias_my pairs_train'", inputs=(source,), out=out)  # fmt: skip


@case("sft-debias-broken-dataset-info")
def _(w):
    source = _pairs_tsv(w, "pairs.tsv", [f"{MARK} bad {i}\t{MARK} good {i}" for i in range(9)])
    info = w.text("data/dataset_info.json", '{"a": ')
    out = w.path("sft")
    return Expect(("sft", "debias", source, "--out", out, "--dataset-dir", info.parent), 1,
                  f"{info}:1: not valid JSON", inputs=(source, info), out=out)  # fmt: skip


@case("sft-debias-bom-crlf-tsv-counts-add-up")
def _(w):
    lines = ["toxic\tneutral1\tneutral2"]
    lines += [f"{MARK} bad {i}\t{MARK} good {i}\t{MARK} fine {i}" for i in range(10)]
    lines += [f"{MARK} lonely {i}\t\t" for i in range(2)]  # no rewrite: rejected, counted
    source = w.raw("pairs.tsv", ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    out = w.path("sft")

    def counts(output):
        pairs, train, val, rejected = number(r"debias_pairs +(\d+) +(\d+) +(\d+) +(\d+)", output)
        assert (pairs, rejected) == (20, 2) and train + val == pairs
        written = json.loads((out / "debias_pairs" / "train.json").read_text())
        assert len(written) == train and not any("\r" in r["output"] for r in written)

    return Expect(("sft", "debias", source, "--out", out), 0, inputs=(source,), counts=counts)


# ------------------------------------------------------------------ generate


def _generate(preds, out, *more):
    return ("generate", "--prompts", PROMPTS, "--predictions", preds, "--out", out, *more)


def _generate_counts(out: Path):
    def counts(output):
        parsed, accepted, rejected = number(
            r"entries parsed (\d+) = accepted (\d+) \+ rejected (\d+)", output
        )
        assert parsed == accepted + rejected
        assert (len(records(out / "accepted.jsonl")), len(records(out / "rejected.jsonl"))) == (
            accepted,
            rejected,
        )
        assert len(records(out / "raw.jsonl")) == len(records(PROMPTS))

    return counts


@case("generate-prompts-and-predictions-swapped")
def _(w):
    out = w.path("gen")
    return Expect(("generate", "--prompts", PREDICTIONS, "--predictions", PROMPTS, "--out", out),
                  1, str(PREDICTIONS), f"{PREDICTIONS}:1: id: missing",
                  inputs=(PROMPTS, PREDICTIONS), out=out)  # fmt: skip


@case("generate-predictions-reordered")
def _(w):
    preds = w.predictions(lambda rows: rows[1:] + rows[:1])
    out = w.path("gen")
    return Expect(_generate(preds, out), 1,
                  f"{preds}:1: prompt: does not contain the prompt of line 1",
                  inputs=(preds,), out=out)  # fmt: skip


@case("generate-predictions-reordered-without-their-prompt")
def _(w):
    preds = w.predictions(lambda rows: [{k: v for k, v in r.items() if k != "prompt"}
                                        for r in rows[::-1]])  # fmt: skip
    out = w.path("gen")
    return Expect(_generate(preds, out), 1, f"{preds}: 6 problem(s) in 6 row(s)",
                  f"{preds}:1: prompt: missing", inputs=(preds,), out=out)  # fmt: skip


@case("generate-predictions-one-short")
def _(w):
    preds = w.predictions(lambda rows: rows[:-1])
    out = w.path("gen")
    return Expect(_generate(preds, out), 1, f"{preds}: 5 predictions for 6 prompts",
                  inputs=(preds,), out=out)  # fmt: skip


@case("generate-predictions-binary-file")
def _(w):
    preds = w.raw("preds.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00" + MARK.encode())
    out = w.path("gen")
    return Expect(_generate(preds, out), 1, f"{preds}:1: not UTF-8 text", inputs=(preds,),
                  out=out)  # fmt: skip


@case("generate-predictions-empty-file")
def _(w):
    preds = w.text("preds.jsonl", "\n\n")
    out = w.path("gen")
    return Expect(_generate(preds, out), 1, f"{preds}: empty file", inputs=(preds,), out=out)


@case("generate-predictions-a-json-report")
def _(w):
    report = w.json("report.json", {"accepted": 3, "note": f"{MARK} a generated text"})
    out = w.path("gen")
    return Expect(_generate(report, out), 1, str(report), f"{report}:1: not valid JSON",
                  inputs=(report,), out=out)  # fmt: skip


@case("generate-predictions-a-folder")
def _(w):
    out = w.path("gen")
    return Expect(_generate(FIXTURES, out), 1, f"{FIXTURES}: a folder, not a JSONL file", out=out)


@case("generate-predict-not-a-string")
def _(w):
    preds = w.predictions(lambda rows: [dict(r, predict=[f"{MARK} x"]) if i == 2 else r
                                        for i, r in enumerate(rows)])  # fmt: skip
    out = w.path("gen")
    return Expect(_generate(preds, out), 1, str(preds),
                  f"{preds}:3: predict: expected a string, got a list", inputs=(preds,),
                  out=out)  # fmt: skip


@case("generate-register-without-name")
def _(w):
    out = w.path("gen")
    return Expect(_generate(PREDICTIONS, out, "--register", w.path("data")), 1,
                  "--register and --name go together", out=out)  # fmt: skip


@case("generate-near-threshold-out-of-range")
def _(w):
    out = w.path("gen")
    return Expect(_generate(PREDICTIONS, out, "--near-threshold", "1.5"), 2,
                  "'--near-threshold': 1.5 is not in the range 0<=x<=1", out=out)  # fmt: skip


@case("generate-register-into-broken-dataset-info")
def _(w):
    info = w.text("data/dataset_info.json", '{"kept": {"file_name": "x.json"}')
    out = w.path("gen")
    return Expect(_generate(PREDICTIONS, out, "--register", info.parent, "--name", "hate_gen"),
                  1, f"{info}:1", inputs=(info,), out=out)  # fmt: skip


@case("generate-rerun-into-another-prompts-run")
def _(w):
    out = w.path("gen")
    CliRunner().invoke(main, [str(a) for a in _generate(PREDICTIONS, out)])
    prompts = records(PROMPTS)
    for row in prompts:
        row["id"] = "other-" + row["id"]
    other = w.jsonl("other_prompts.jsonl", prompts)
    args = ("generate", "--prompts", other, "--predictions", PREDICTIONS, "--out", out)
    return Expect(args, 1, "not in this prompts file", inputs=(other,), out=out)


@case("generate-bom-crlf-predictions-counts-add-up")
def _(w):
    text = "\ufeff" + "\r\n".join(PREDICTIONS.read_text().splitlines()) + "\r\n"
    preds = w.text("preds.jsonl", text)
    out = w.path("gen")
    return Expect(_generate(preds, out), 0, inputs=(preds,), counts=_generate_counts(out))


@case("generate-nul-and-huge-entries-counts-add-up")
def _(w):
    def change(rows):
        rows[0]["predict"] += f"\n11. {MARK}\x00 hidden\u200b text\n12. " + f"{MARK} " * 100_000
        return rows

    preds = w.predictions(change)
    out = w.path("gen")
    return Expect(_generate(preds, out), 0, inputs=(preds,), counts=_generate_counts(out))


@case("generate-into-a-render-folder-keeps-its-prompts")
def _(w):
    render = w.path("prompts")
    CliRunner().invoke(main, ["render", "--category", "hate", "--versions", "v1", "--polarity",
                              "pos", "--n-prompts", "3", "--out", str(render)])  # fmt: skip
    stem = render / "hate_pos_v1"
    prompts = records(stem / "prompts.jsonl")
    preds = w.jsonl("preds.jsonl", [{"prompt": p["prompt"], "label": "",
                                     "predict": f"1. {MARK} they ruin everything\n2. {MARK} go"}
                                    for p in prompts])  # fmt: skip
    args = ("generate", "--prompts", stem / "prompts.jsonl", "--predictions", preds, "--out", stem)
    return Expect(args, 1, str(stem), inputs=(stem / "alpaca.json", render / "dataset_info.json"))


# ------------------------------------------------------------------ augment


@case("augment-rejects-file-as-synthetic")
def _(w):
    train, _ = w.labelled()
    rejects = w.jsonl("rejected.jsonl", [{"text": f"{MARK} refusal", "label": 1,
                                          "reason": "refusal", "kind": "rejected"}])  # fmt: skip
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", rejects, "--out", out), 1,
                  f'{rejects}: 1 row(s) are marked "kind": "rejected"',
                  inputs=(train, rejects), out=out)  # fmt: skip


@case("augment-unknown-label")
def _(w):
    train, _ = w.labelled()
    synthetic = w.jsonl("syn.jsonl", [{"text": f"{MARK} maybe bad", "label": "maybe"}])
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 1,
                  str(synthetic), f"{synthetic}:1: label: unknown label 'maybe'",
                  inputs=(train, synthetic), out=out)  # fmt: skip


@case("augment-text-and-label-swapped")
def _(w):
    train, _ = w.labelled()
    synthetic = w.jsonl("syn.jsonl", [{"text": 1, "label": f"{MARK} the text, in label"}])
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 1,
                  str(synthetic), f"{synthetic}:1: text: empty or not a string",
                  inputs=(train, synthetic), out=out)  # fmt: skip


@case("augment-label-and-polarity-disagree")
def _(w):
    train, _ = w.labelled()
    synthetic = w.jsonl("syn.jsonl", [{"text": f"{MARK} x", "label": 1, "polarity": "neg"}])
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 1,
                  str(synthetic), f"{synthetic}:1: polarity: 'neg' disagrees with label 1",
                  inputs=(train, synthetic), out=out)  # fmt: skip


@case("augment-folder-as-synthetic")
def _(w):
    train, _ = w.labelled()
    folder = w.folder("gen")
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", folder, "--out", out), 1,
                  f"{folder}: a folder, not a seed file", inputs=(train,), out=out)  # fmt: skip


@case("augment-header-only-csv")
def _(w):
    train, _ = w.labelled()
    synthetic = w.text("syn.csv", "text,label\n")
    out = w.path("augmented.jsonl")
    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 1,
                  f"{synthetic}: empty file", inputs=(train, synthetic), out=out)  # fmt: skip


@case("augment-out-named-csv")
def _(w):
    train, _ = w.labelled()
    synthetic = w.jsonl("syn.jsonl", [{"text": f"{MARK} fine", "label": 0}])
    out = w.path("augmented.csv")
    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 1,
                  f"{out}: --out is written as JSONL, not .csv", inputs=(train, synthetic),
                  out=out)  # fmt: skip


@case("augment-bom-crlf-csv-with-duplicates-counts-add-up")
def _(w):
    train, _ = w.labelled()
    first = json.loads(train.read_text().splitlines()[0])["text"]
    rows = [f'"{first}",1', f'"{MARK} new one, with a comma",harmful', f"{MARK} new two,safe"]
    synthetic = w.raw("syn.csv", ("\ufefftext,label\r\n" + "\r\n".join(rows) + "\r\n").encode())
    out = w.path("augmented.jsonl")

    def counts(output):
        read, written, dropped = number(
            r"read (\d+) = written (\d+) \+ duplicates dropped (\d+)", output
        )
        assert (read, written, dropped) == (23, 22, 1)
        assert [r["source"] for r in records(out)].count("synthetic") == 2

    return Expect(("augment", "--train", train, "--synthetic", synthetic, "--out", out), 0,
                  inputs=(train, synthetic), counts=counts)  # fmt: skip


# ------------------------------------------------------------------ register


def _alpaca(w) -> Path:
    return w.json("data.json", [{"instruction": f"{MARK} list", "input": "", "output": "1. a"}])


@case("register-bad-dataset-name")
def _(w):
    data, dataset_dir = _alpaca(w), w.folder("dd")
    return Expect(("register", "hate,pos", data, "--dataset-dir", dataset_dir), 1,
                  "dataset name 'hate,pos'", inputs=(data,), out=dataset_dir)  # fmt: skip


@case("register-broken-dataset-info")
def _(w):
    data = _alpaca(w)
    info = w.text("dd/dataset_info.json", '{"a": {"file_name": "a.json"},}')
    return Expect(("register", "good_name", data, "--dataset-dir", info.parent), 1,
                  f"{info}:1: not valid JSON", inputs=(data, info))  # fmt: skip


@case("register-dataset-info-not-an-object")
def _(w):
    data = _alpaca(w)
    info = w.json("dd/dataset_info.json", [1, 2])
    return Expect(("register", "good_name", data, "--dataset-dir", info.parent), 1,
                  f"{info}:1: expected a JSON object", inputs=(data, info))  # fmt: skip


@case("register-labelled-data-not-alpaca")
def _(w):
    train, _ = w.labelled()
    dataset_dir = w.folder("dd")
    return Expect(("register", "good_name", train, "--dataset-dir", dataset_dir), 1, str(train),
                  f"{train}:1: instruction: missing", inputs=(train,), out=dataset_dir)  # fmt: skip


@case("register-folder-as-data-file")
def _(w):
    folder, dataset_dir = w.folder("gen"), w.folder("dd")
    return Expect(("register", "good_name", folder, "--dataset-dir", dataset_dir), 1,
                  f"{folder}: a folder, not a data file", out=dataset_dir)  # fmt: skip


@case("register-system-flag-without-system-field")
def _(w):
    data, dataset_dir = _alpaca(w), w.folder("dd")
    return Expect(("register", "good_name", data, "--dataset-dir", dataset_dir, "--system"), 1,
                  str(data), f"{data}, record 1: system: missing", inputs=(data,),
                  out=dataset_dir)  # fmt: skip


# ------------------------------------------------------------------ classify


def _classifier(w) -> Path:
    from synthpack.models.classifier.mlp import TextClassifier

    folder = w.path("clf")
    texts = [f"you are a {w} idiot" for w in ("total", "real", "big")]
    texts += [f"thanks for the {w} help" for w in ("kind", "quick", "great")]
    TextClassifier.fit(texts, [1, 1, 1, 0, 0, 0]).save(folder)
    return folder


@case("classify-duplicate-ids")
def _(w):
    model = _classifier(w)
    data = w.jsonl("texts.jsonl", [{"id": "a", "text": f"{MARK} one"},
                                   {"id": "a", "text": f"{MARK} two"}])  # fmt: skip
    return Expect(("classify", model, data), 1, str(data),
                  f"{data}:2: id: 'a' is also the id of line 1", inputs=(data, model))  # fmt: skip


@case("classify-binary-file")
def _(w):
    model = _classifier(w)
    data = w.raw("texts.txt", b"\xff\xd8\xff\xe0JFIF\x00" + MARK.encode())
    return Expect(("classify", model, data), 1, f"{data}:1: not UTF-8 text", inputs=(data,))


@case("classify-out-named-csv")
def _(w):
    model = _classifier(w)
    data = w.text("texts.txt", f"{MARK} one\n")
    out = w.path("scores.csv")
    return Expect(("classify", model, data, "--out", out), 1,
                  f"{out}: --out is written as JSONL, not .csv", inputs=(data,),
                  out=out)  # fmt: skip


@case("classify-folder-not-a-classifier")
def _(w):
    data = w.text("texts.txt", f"{MARK} one\n")
    folder = w.folder("not_a_model")
    return Expect(("classify", folder, data), 1, f"{folder}: not a saved classifier",
                  inputs=(data,))  # fmt: skip


@case("classify-crlf-blank-lines-scores-each-text-once")
def _(w):
    model = _classifier(w)
    data = w.text("texts.txt", f"{MARK} one\r\n\r\n{MARK} three\r\n")
    out = w.path("scores.jsonl")

    def counts(output):
        assert number(r"(\d+) texts, (\d+) flagged", output)[0] == 2
        assert [r["id"] for r in records(out)] == ["1", "3"]

    return Expect(("classify", model, data, "--out", out), 0, inputs=(data, model),
                  counts=counts)  # fmt: skip


# ------------------------------------------------------------------ check / train prefix


@case("check-typo-key")
def _(w):
    config = w.text("c.yaml", LORA_CONFIG.read_text().replace("learning_rate", "learning_rat"))
    return Expect(("check", config), 1, str(config),
                  "learning_rat: unknown key (not an argument of llamafactory-cli train). Did "
                  "you mean: learning_rate?", inputs=(config,))  # fmt: skip


@case("check-binary-config")
def _(w):
    config = w.raw("c.yaml", b"\xff\xfe\x00" + MARK.encode())
    return Expect(("check", config), 1, str(config), "not UTF-8 text", inputs=(config,))


@case("check-override-without-value")
def _(w):
    return Expect(("check", LORA_CONFIG, "learning_rate"), 1, str(LORA_CONFIG),
                  "override 'learning_rate': write key=value", inputs=(LORA_CONFIG,))  # fmt: skip


@case("check-value-of-the-wrong-type")
def _(w):
    config = w.text("c.yaml", LORA_CONFIG.read_text().replace(
        "num_train_epochs: 1.0", "num_train_epochs: many"))  # fmt: skip
    return Expect(("check", config), 1, str(config), "expects a number, got str 'many'",
                  inputs=(config,))  # fmt: skip


@case("train-prefix-given-a-lora-config")
def _(w):
    return Expect(("train", "prefix", LORA_CONFIG), 1,
                  f"{LORA_CONFIG}: finetuning_type is 'lora', not 'prefix'",
                  inputs=(LORA_CONFIG,))  # fmt: skip


@case("train-prefix-config-is-a-folder")
def _(w):
    return Expect(("train", "prefix", w.folder("configs")), 2, "is a directory")


# ------------------------------------------------------------------ report / recipes / demo


@case("report-folder-without-records")
def _(w):
    run = w.folder("run")
    return Expect(("report", run), 1, str(run), out=run)  # no record: nothing to report


@case("report-record-not-an-object")
def _(w):
    run = w.folder("run")
    record = w.json("run/gen/clean.step.json", [1, 2])
    return Expect(("report", run), 1, f"{record}: not a step record", out=run)


@case("report-record-broken-json")
def _(w):
    run = w.folder("run")
    record = w.text("run/gen/clean.step.json", '{"step": "clean", ')
    return Expect(("report", run), 1, f"{record}: not a readable step record", out=run)


@case("report-run-dir-is-a-file")
def _(w):
    return Expect(("report", w.text("run.txt", "x")), 2, "is a file")


@case("recipes-extra-argument")
def _(w):
    return Expect(("recipes", "quick"), 2, "unexpected extra argument")


@case("recipes-lists-every-shipped-recipe")
def _(w):
    from synthpack.demo.recipes import list_recipes

    def counts(output):
        listed = [line.split()[0] for line in output.splitlines()[2:] if line.strip()]
        assert [n for n in listed if n in list_recipes()] == list_recipes()

    return Expect(("recipes",), 0, counts=counts)


@case("demo-unknown-recipe")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quik", "--out", out), 1,
                  "Unknown recipe 'quik'. Did you mean: quick?", out=out)  # fmt: skip


@case("demo-two-recipes")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quick", "--full", "--out", out), 2,
                  "quick and full name two recipes", out=out)  # fmt: skip


@case("demo-unknown-step")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quick", "--steps", "render,trian", "--out", out), 1,
                  "Unknown demo step 'trian'", out=out)  # fmt: skip


@case("demo-steps-range-backwards")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quick", "--steps", "train-render", "--out", out), 1,
                  "--steps train-render: train comes after render", out=out)  # fmt: skip


@case("demo-recipe-file-typo-key")
def _(w):
    recipe = w.text("r.yaml", "base: quick\ntrain_stepz: 3\n")
    out = w.path("demo")
    return Expect(("demo", "--recipe", recipe, "--out", out), 1,
                  f"{recipe}: Unknown recipe field 'train_stepz'. Did you mean: train_steps?",
                  inputs=(recipe,), out=out)  # fmt: skip


@case("demo-recipe-file-wrong-types")
def _(w):
    recipe = w.text("r.yaml", "base: quick\ntrain_steps: many\nlearning_rate: fast\n")
    out = w.path("demo")
    return Expect(("demo", "--recipe", recipe, "--out", out), 1,
                  f"{recipe}: 2 bad recipe value(s)",
                  "train_steps: expected a whole number, got 'many'", inputs=(recipe,),
                  out=out)  # fmt: skip


@case("demo-override-wrong-type")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quick", "train_steps=1.5", "--out", out), 1,
                  "command line: 1 bad recipe value(s)", "train_steps: expected a whole number",
                  out=out)  # fmt: skip


@case("demo-override-without-value")
def _(w):
    out = w.path("demo")
    return Expect(("demo", "--recipe", "quick", "seed", "--out", out), 1,
                  "override 'seed': write key=value", out=out)  # fmt: skip


@case("demo-into-a-folder-of-other-settings")
def _(w):
    out = w.folder("demo")
    settings = w.json("demo/settings.json", {"recipe": {"seed": 99}, "data": {}})
    return Expect(("demo", "--recipe", "quick", "--steps", "render", "--out", out), 1,
                  f"{out} holds a demo made with other settings", inputs=(settings,),
                  out=out)  # fmt: skip


# ------------------------------------------------------------------ eval mlp / train-checker


@case("eval-mlp-synthetic-without-name")
def _(w):
    train, evaluation = w.labelled()
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--train", train, "--eval", evaluation, "--synthetic",
                   "accepted.jsonl", "--out", out), 1, "--synthetic",
                  "'accepted.jsonl': expected NAME=FILE", out=out)  # fmt: skip


@case("eval-mlp-missing-eval")
def _(w):
    train, _ = w.labelled()
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--train", train, "--out", out), 2,
                  "Missing option --eval (or give --task)", out=out)  # fmt: skip


@case("eval-mlp-bootstrap-negative")
def _(w):
    train, evaluation = w.labelled()
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--train", train, "--eval", evaluation, "--bootstrap", "-5",
                   "--out", out), 2, "'--bootstrap': -5 is not in the range x>=0",
                  out=out)  # fmt: skip


@case("eval-mlp-task-typo-key")
def _(w):
    w.labelled()
    task = w.text("task.yaml", "command: mlp\ntrain: train.jsonl\nevel: eval.jsonl\n")
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--task", task, "--out", out), 1, str(task),
                  "evel: Unknown key 'evel'. Did you mean: eval?", inputs=(task,),
                  out=out)  # fmt: skip


@case("eval-mlp-task-wrong-types")
def _(w):
    w.labelled()
    task = w.text("task.yaml", "command: mlp\ntrain: train.jsonl\neval: eval.jsonl\n"
                               "folds: many\nfeatures: bert\n")  # fmt: skip
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--task", task, "--out", out), 1, f"{task}: 2 problem(s)",
                  "folds: Invalid value for '--folds'", inputs=(task,), out=out)  # fmt: skip


@case("eval-mlp-task-for-another-command")
def _(w):
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--task", "stereoset_demo", "--out", out), 1,
                  "stereoset_demo.yaml", "this task is for `synthpack eval stereoset`",
                  out=out)  # fmt: skip


@case("eval-mlp-train-is-the-eval-set")
def _(w):
    train, _ = w.labelled()
    out = w.path("mlp")
    return Expect(("eval", "mlp", "--train", train, "--eval", train, "--out", out), 1,
                  f"{train}: all 20 training texts are also in the evaluation set",
                  inputs=(train,), out=out)  # fmt: skip


@case("train-checker-out-is-the-train-file")
def _(w):
    train, _ = w.labelled()
    return Expect(("eval", "train-checker", "--train", train, "--out", train), 1,
                  f"{train}: is a file", inputs=(train,))  # fmt: skip


@case("train-checker-one-label-only")
def _(w):
    train = w.jsonl("train.jsonl", [{"text": f"{MARK} bad {i}", "label": 1} for i in range(9)])
    out = w.path("checker")
    return Expect(("eval", "train-checker", "--train", train, "--out", out), 1,
                  f"{train}: a label checker needs harmful (1) and harmless (0) texts; found "
                  "only label 1", inputs=(train,), out=out)  # fmt: skip


@case("train-checker-csv-with-surplus-cells")
def _(w):
    train = w.text("train.csv", f"text,label\n{MARK} hello, world,1\n{MARK} fine,0\n")
    out = w.path("checker")
    return Expect(("eval", "train-checker", "--train", train, "--out", out), 1, str(train),
                  f"{train}:2: 3 cells, but the header names 2 columns", inputs=(train,),
                  out=out)  # fmt: skip


# ------------------------------------------------------------------ stereoset / crows-pairs


@case("stereoset-jsonl-as-data")
def _(w):
    scores = w.json("scores.json", {"intrasentence": [{"id": "x", "score": 0.5}]})
    out = w.path("ss")
    return Expect(("eval", "stereoset", "--data", PREDICTIONS, "--scores", scores, "--out", out),
                  1, f"{PREDICTIONS}: cannot read StereoSet JSON", inputs=(scores,),
                  out=out)  # fmt: skip


@case("stereoset-scores-of-other-data")
def _(w):
    scores = w.json("scores.json", {"intrasentence": [{"id": "nope", "score": 0.5}]})
    out = w.path("ss")
    return Expect(("eval", "stereoset", "--data", STEREOSET, "--scores", scores, "--out", out),
                  1, f"{scores}: none of its ids belong to", inputs=(scores,), out=out)  # fmt: skip


@case("stereoset-scores-not-numbers")
def _(w):
    text = f"{MARK} a generated text where a score belongs"
    scores = w.json("scores.json", {"intrasentence": [{"id": "a", "score": text}]})
    out = w.path("ss")
    return Expect(("eval", "stereoset", "--data", STEREOSET, "--scores", scores, "--out", out),
                  1, str(scores), "intrasentence[0]: score: expected a number, got <a text of",
                  inputs=(scores,), out=out)  # fmt: skip


@case("stereoset-model-and-scores")
def _(w):
    scores = w.json("scores.json", {"intrasentence": []})
    out = w.path("ss")
    return Expect(("eval", "stereoset", "--data", STEREOSET, "--scores", scores, "--model",
                   w.folder("model"), "--out", out), 1,
                  "give exactly one of --model DIR or --scores FILE", out=out)  # fmt: skip


@case("stereoset-task-wrong-values")
def _(w):
    task = w.text("task.yaml", f"command: stereoset\ndata: {STEREOSET}\nsplit: sideways\n"
                               "limit: 0\n")  # fmt: skip
    out = w.path("ss")
    return Expect(("eval", "stereoset", "--task", task, "--out", out), 1,
                  f"{task}: 2 problem(s)", "limit: Invalid value for '--limit'", inputs=(task,),
                  out=out)  # fmt: skip


@case("crows-pairs-missing-column")
def _(w):
    data = w.text("cp.csv", f"sent_more,sent_less\n{MARK} a,{MARK} b\n")
    out = w.path("cp")
    return Expect(("eval", "crows-pairs", "--data", data, "--model", w.folder("model"), "--out",
                   out), 1, f"{data}:1: stereo_antistereo: missing column",
                  inputs=(data,), out=out)  # fmt: skip


@case("crows-pairs-folder-is-not-a-model")
def _(w):
    out = w.path("cp")
    model = w.folder("model")
    w.text("model/notes.txt", "not a model\n")
    return Expect(("eval", "crows-pairs", "--data", CROWS_PAIRS, "--model", model, "--limit",
                   "2", "--out", out), 1, f"{model}: not a model folder (no config.json)",
                  out=out)  # fmt: skip


# ------------------------------------------------------------------ eval debias / compare


@case("eval-debias-labelled-data-as-pairs")
def _(w):
    train, _ = w.labelled()
    out = w.path("debias")
    return Expect(("eval", "debias", "--pairs", train, "--toxicity", w.folder("tox"), "--out",
                   out), 1, str(train), f"{train}:1: original: missing (fields: text, label)",
                  inputs=(train,), out=out)  # fmt: skip


@case("eval-debias-pairs-and-texts")
def _(w):
    pairs = w.jsonl("pairs.jsonl", [{"original": f"{MARK} a", "rewrite": f"{MARK} b"}])
    out = w.path("debias")
    return Expect(("eval", "debias", "--pairs", pairs, "--texts", pairs, "--toxicity",
                   w.folder("tox"), "--out", out), 1,
                  "give either --pairs FILE, or --texts FILE with --model DIR", inputs=(pairs,),
                  out=out)  # fmt: skip


@case("eval-debias-texts-without-model")
def _(w):
    texts = w.jsonl("texts.jsonl", [{"original": f"{MARK} a"}])
    out = w.path("debias")
    return Expect(("eval", "debias", "--texts", texts, "--toxicity", w.folder("tox"), "--out",
                   out), 1, "--texts needs --model", inputs=(texts,), out=out)  # fmt: skip


@case("eval-debias-toxicity-folder-not-a-classifier")
def _(w):
    pairs = w.jsonl("pairs.jsonl", [{"original": f"{MARK} a", "rewrite": f"{MARK} b"}])
    tox = w.folder("tox")
    out = w.path("debias")
    return Expect(("eval", "debias", "--pairs", pairs, "--toxicity", tox, "--no-perplexity",
                   "--no-similarity", "--out", out), 1,
                  f"{tox}: not a toxicity classifier synthpack can read", inputs=(pairs,),
                  out=out)  # fmt: skip


def _compare(w, baseline: Path, candidate: Path) -> tuple:
    return ("eval", "debias-compare", baseline, candidate, "--n-boot", "100", "--out",
            w.path("compare"))  # fmt: skip


@case("debias-compare-broken-report")
def _(w):
    base, cand = w.debias_run("base"), w.debias_run("tuned", report='{"safety": ')
    return Expect(_compare(w, base, cand), 1, f"{cand / 'report.json'}:1: not valid JSON",
                  inputs=(base, cand), out=w.path("compare"))  # fmt: skip


@case("debias-compare-not-a-debias-report")
def _(w):
    base = w.debias_run("base")
    cand = w.debias_run("gen", report={"accepted": 22, "rejected": 22})
    return Expect(_compare(w, base, cand), 1,
                  f"{cand / 'report.json'}: not the report of an `eval debias` run",
                  inputs=(base, cand), out=w.path("compare"))  # fmt: skip


@case("debias-compare-rows-without-id")
def _(w):
    base = w.debias_run("base")
    rows = [{k: v for k, v in r.items() if k != "id"} for r in records(base / "pairs.jsonl")]
    cand = w.debias_run("tuned", rows=rows)
    return Expect(_compare(w, base, cand), 1, str(cand / "pairs.jsonl"),
                  f"{cand / 'pairs.jsonl'}:1: id: missing", inputs=(base, cand),
                  out=w.path("compare"))  # fmt: skip


@case("debias-compare-duplicate-ids")
def _(w):
    base = w.debias_run("base")
    rows = records(base / "pairs.jsonl")
    rows[3]["id"] = rows[0]["id"]  # one text twice, one missing: not the same texts
    cand = w.debias_run("tuned", rows=rows)
    return Expect(_compare(w, base, cand), 1, str(cand / "pairs.jsonl"),
                  f"{cand / 'pairs.jsonl'}:4: id: '0' is also the id of line 1",
                  inputs=(base, cand), out=w.path("compare"))  # fmt: skip


@case("debias-compare-rows-lack-a-metric")
def _(w):
    base = w.debias_run("base")
    rows = records(base / "pairs.jsonl")
    del rows[4]["j"]
    cand = w.debias_run("tuned", rows=rows)
    return Expect(_compare(w, base, cand), 1, f"{cand / 'pairs.jsonl'}: rows lack j",
                  inputs=(base, cand), out=w.path("compare"))  # fmt: skip


@case("debias-compare-n-boot-too-small")
def _(w):
    base, cand = w.debias_run("base"), w.debias_run("tuned")
    out = w.path("compare")
    return Expect(("eval", "debias-compare", base, cand, "--n-boot", "5", "--out", out), 2,
                  "'--n-boot': 5 is not in the range x>=100", out=out)  # fmt: skip


@case("debias-compare-rows-in-another-order-are-paired-by-id")
def _(w):
    base = w.debias_run("base")
    cand = w.debias_run("tuned", rows=records(base / "pairs.jsonl")[::-1])
    out = w.path("compare")

    def counts(output):
        report = json.loads((out / "compare.json").read_text())
        assert report["texts"] == 6 and report["metrics"]["j"]["delta"] == 0

    return Expect(_compare(w, base, cand), 0, inputs=(base, cand), counts=counts)


# ------------------------------------------------------------------ category / model


@case("category-new-bad-name")
def _(w):
    root = w.pack()
    return Expect(("category", "new", "Spam-Ads", "--definition", "ads", "--root", root), 1,
                  "category name 'Spam-Ads': use a-z, 0-9 and '_'", out=root)  # fmt: skip


@case("category-new-existing-category")
def _(w):
    root = w.pack()
    return Expect(("category", "new", "hate", "--definition", "x", "--root", root), 1,
                  "category 'hate' exists", out=root)  # fmt: skip


@case("category-new-broken-dataset-info-changes-nothing")
def _(w):
    root = w.pack()
    info = root / "dataset_info" / "dataset_info.json"
    info.write_text("{oops")
    return Expect(("category", "new", "spam", "--definition", "unsolicited ads", "--root", root),
                  1, f"{info}:1: not valid JSON", out=root)  # fmt: skip


@case("category-new-a-copy-exists-changes-nothing")
def _(w):
    root = w.pack()
    target = root / "llamafactory_configs" / "smollm2_lora_sft_spam.yaml"
    target.write_text("keep: me\n")
    return Expect(("category", "new", "spam", "--definition", "unsolicited ads", "--root", root),
                  1, f"{target}: exists (pass --force to overwrite)", out=root)  # fmt: skip


@case("category-new-registers-each-dataset-once-as-added")
def _(w):
    root = w.pack()

    def counts(output):
        wrote = [line for line in output.splitlines() if line.startswith("wrote ")]
        assert len(wrote) == 1 + len(list((root / "llamafactory_configs").glob("*spam*.yaml")))
        registered = [line for line in output.splitlines() if " in dataset_info.json" in line]
        assert registered and all(line.startswith("added ") for line in registered), output
        info = json.loads((root / "dataset_info" / "dataset_info.json").read_text())
        assert {line.split()[1] for line in registered} <= set(info)

    return Expect(("category", "new", "spam", "--definition", "unsolicited ads", "--root", root),
                  0, counts=counts)  # fmt: skip


@case("category-list-broken-category-file")
def _(w):
    root = w.pack()
    broken = root / "templates" / "categories" / "broken.yaml"
    broken.write_text("name: broken\ntitle: [\n")
    return Expect(("category", "list", "--templates", root / "templates"), 1,
                  f"{broken}:3: not valid YAML", out=root)  # fmt: skip


@case("model-prepare-gguf-is-not-gguf")
def _(w):
    out = w.path("model")
    return Expect(("model", "prepare", "--gguf", PREDICTIONS, "--out", out), 1,
                  f"{PREDICTIONS}: not a GGUF file", inputs=(PREDICTIONS,), out=out)  # fmt: skip


@case("model-prepare-missing-gguf")
def _(w):
    out = w.path("model")
    gguf = w.path("missing.gguf")
    return Expect(("model", "prepare", "--gguf", gguf, "--out", out), 1,
                  f"{gguf}: GGUF file not found", out=out)  # fmt: skip


@case("model-prepare-unknown-model")
def _(w):
    return Expect(("model", "prepare", "--model", "llama"), 2,
                  "'--model': 'llama' is not one of 'smollm2', 'gemma3-270m'")  # fmt: skip
