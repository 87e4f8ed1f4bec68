"""The step contract: a runner with declared inputs and outputs, run through `run_step`, which
checks the inputs, times the runner and leaves a record that `find_records` reads back; the
demo is a list of such steps over the runners the commands use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from synthpack.common.errors import SynthpackError
from synthpack.common.step import (
    Context,
    StepSettings,
    find_records,
    plain,
    read_record,
    run_step,
)


@dataclass(frozen=True)
class CountSettings(StepSettings):
    """A toy step: count the lines of `source` into FOLDER/count.json."""

    step = "count"
    source: Path
    label: str = "lines"

    def reads(self) -> dict[str, Path | None]:
        return {"source": self.source, "unused": None}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"count": Path(folder) / "count.json", "never": Path(folder) / "never.json"}


def run_count(settings: CountSettings, folder: Path, context: Context = Context()) -> dict:
    n = len(Path(settings.source).read_text().splitlines())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "count.json").write_text(json.dumps({settings.label: n}))
    context.echo(f"counted {n}")
    return {settings.label: n}


def test_run_step_runs_the_runner_and_records_what_it_read_and_wrote(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("a\nb\nc\n")
    notes: list[str] = []
    report = run_step(
        run_count, CountSettings(source), tmp_path / "out", Context(echo=notes.append)
    )
    assert report == {"lines": 3} and notes == ["counted 3"]
    record = read_record(tmp_path / "out", "count")
    assert record["step"] == "count" and record["report"] == {"lines": 3}
    assert record["settings"] == {"source": str(source), "label": "lines"}
    assert record["reads"] == {"source": str(source)}  # inputs not used this time are left out
    assert record["writes"] == {"count": str(tmp_path / "out" / "count.json")}  # only what exists
    assert record["seconds"] >= 0 and record["finished"].endswith("+00:00")


def test_a_missing_input_stops_the_step_before_it_runs(tmp_path):
    with pytest.raises(SynthpackError) as error:
        run_step(run_count, CountSettings(tmp_path / "nope.txt"), tmp_path / "out")
    assert str(error.value) == (
        f"step 'count' cannot start: missing input(s): source: {tmp_path / 'nope.txt'} not found"
    )
    assert not (tmp_path / "out").exists()


def test_records_are_found_below_a_run_folder_oldest_first(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    for where in ("b", "a/deeper", "."):
        run_step(run_count, CountSettings(source, label=where), tmp_path / where)
    found = find_records(tmp_path)
    assert [record["report"] for _, record in found] == [{"b": 1}, {"a/deeper": 1}, {".": 1}]
    assert [folder for folder, _ in found] == [tmp_path / "b", tmp_path / "a/deeper", tmp_path]
    (tmp_path / "b" / "count.step.json").write_text("{not json")
    with pytest.raises(SynthpackError, match="count.step.json: not a readable step record"):
        find_records(tmp_path)


def test_settings_become_plain_data():
    @dataclass(frozen=True)
    class Inner:
        k: int

    assert plain({"p": Path("/a"), "t": (1, Inner(2)), 3: {"s": {Path("/b")}}}) == {
        "p": "/a",
        "t": [1, {"k": 2}],
        "3": {"s": ["/b"]},
    }


def test_the_demo_is_a_list_of_the_runners_the_commands_use(tmp_path):
    """Every demo step runs a runner of its own step package, never code of the demo."""
    from synthpack.demo.pipeline import STEPS, synthesis_steps
    from synthpack.demo.recipes import load_recipe
    from synthpack.models.precision import Precision
    from synthpack.prepare.real_data import shipped_data

    plan = synthesis_steps(load_recipe("quick"), shipped_data(), tmp_path, Precision("fp32", "t"))
    assert [step.name for step in plan] == list(STEPS)
    packages = {step.name: {run.runner.__module__ for run in step.runs} for step in plan}
    assert packages == {
        "prepare": {"synthpack.prepare.real_data", "synthpack.prepare.paradetox"},
        "render": {"synthpack.prompts.render"},
        "sft": {"synthpack.sft.synthesis"},
        "train": {"synthpack.train.launch"},
        "generate": {"synthpack.generate.run"},
        "clean": {"synthpack.clean.run"},
        "label_check": {"synthpack.clean.checker"},
        "register": {"synthpack.register"},
        "eval_mlp": {"synthpack.evaluate.run"},
        "stereoset": {"synthpack.evaluate.stereoset"},
        "report": {"synthpack.report.build"},
    }
    # prepare also writes the classifier's second evaluation domain (its own record)
    for step in plan:
        for run in step.runs:
            assert run.settings.step in (step.name, "sft", "transfer_eval"), step.name
