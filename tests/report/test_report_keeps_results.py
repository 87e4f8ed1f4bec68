"""`report` never drops results (issue 26): a file a step's record lists that is missing or
unreadable is an error naming the file and the step, and `summary.json` is never replaced by
one with less, so a failed rebuild leaves the run folder byte for byte as it was."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main
from synthpack.common.errors import SynthpackError
from synthpack.report.build import ReportSettings, lost_results, run_report

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def reported(tmp_path):
    """A run folder whose `generate` and `clean` steps ran (real SmolLM2 answers) and whose
    report was built once: (run folder, cleaned folder)."""
    work, cleaned = tmp_path / "run", tmp_path / "run" / "gen"
    made = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", cleaned)
    assert made.exit_code == 0, made.output
    first = run("report", work)
    assert first.exit_code == 0, first.output
    assert json.loads((work / "summary.json").read_text())["generation"]["accepted"] > 0
    return work, cleaned


def _snapshot(work):
    return {name: (work / name).read_bytes() for name in ("summary.json", "report.html")}


def test_a_report_file_missing_while_its_record_stands_is_an_error(reported):
    """The probe's reproduction: clean's record is there, its report.json is not."""
    work, cleaned = reported
    before = _snapshot(work)
    (cleaned / "report.json").unlink()
    result = run("report", work)
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert line.startswith(f"Error: {cleaned / 'report.json'}: missing;") and "\n" not in line
    assert "step 'clean'" in line and str(cleaned / "clean.step.json") in line
    assert "rerun step 'clean'" in line
    assert _snapshot(work) == before  # nothing written, not even the page
    # The demo's report step (run_step -> run_report) refuses alike.
    with pytest.raises(SynthpackError, match="report.json: missing; step 'clean'"):
        run_report(ReportSettings(), work)
    assert _snapshot(work) == before


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON (line "),  # a torn write
        (lambda text: "[1, 2]", "holds a JSON list, not an object"),
        (lambda text: "", "not valid JSON (line 1, column 1"),
    ],
    ids=["truncated", "a-list", "empty"],
)
def test_an_unreadable_report_file_is_an_error_naming_it(reported, damage, problem):
    work, cleaned = reported
    before = _snapshot(work)
    path = cleaned / "report.json"
    path.write_text(damage(path.read_text()))
    result = run("report", work)
    assert result.exit_code == 1, result.output
    assert f"Error: {path}: {problem}" in result.output
    assert "step 'clean'" in result.output and "rerun step 'clean'" in result.output
    assert _snapshot(work) == before


def test_a_summary_is_not_replaced_by_one_with_less(reported):
    """clean's record removed: the rebuilt summary would lack the generation section, so the
    old one stays; --force replaces it, and a step that never ran is simply not reported."""
    work, cleaned = reported
    before = _snapshot(work)
    (cleaned / "clean.step.json").unlink()
    result = run("report", work)
    assert result.exit_code == 1, result.output
    assert f"Error: {work / 'summary.json'}: the rebuilt summary would lose generation, " \
        "steps.clean (" in result.output  # fmt: skip
    assert "--force" in result.output
    assert _snapshot(work) == before

    forced = run("report", work, "--force")
    assert forced.exit_code == 0, forced.output
    summary = json.loads((work / "summary.json").read_text())
    assert summary["generation"] is None and [s["step"] for s in summary["steps"]] == ["generate"]
    assert "--force" in run("report", "--help").output


def test_an_unreadable_summary_is_not_replaced_without_force(reported):
    work, _ = reported
    (work / "summary.json").write_text('{"generation": {"accep')
    result = run("report", work)
    assert result.exit_code == 1, result.output
    assert f"{work / 'summary.json'}: not valid JSON" in result.output
    assert "cannot tell which results it holds" in result.output
    assert (work / "summary.json").read_text() == '{"generation": {"accep'
    assert run("report", work, "--force").exit_code == 0


def test_lost_results_names_sections_and_runs_not_changed_figures():
    old = {
        "steps": [{"step": "clean", "seconds": 1.0}, {"step": "stereoset (tuned)", "seconds": 2}],
        "generation": {"accepted": 22},
        "classifier": {"runs": [{"name": "real", "f1": 0.5}, {"name": "real+mine", "f1": 0.6}]},
        "stereoset": {"base": {"ss": 60.0}, "tuned": {"ss": 55.0}},
        "debias": {
            "rewriters": {"base": {}, "tuned": {}},
            "judge": {"auroc": 0.9},
            "compare": None,
            "crows_pairs": {"base": {}},
        },
        "verdict": "Tuning beat prompting.",
    }
    rerun = json.loads(json.dumps(old))  # every figure moved, nothing gone
    rerun["generation"]["accepted"] = 30
    rerun["classifier"]["runs"][1]["f1"] = 0.7
    rerun["stereoset"]["tuned"]["ss"] = 52.0
    rerun["steps"][0]["seconds"] = 9.0
    assert lost_results(old, rerun) == []
    assert lost_results(old, {**rerun, "debias": None, "stereoset": {"base": {}}}) == [
        "debias", "stereoset.tuned", "debias.judge", "debias.rewriters.base",
        "debias.rewriters.tuned", "debias.crows_pairs.base",
    ]  # fmt: skip
    fewer = {**rerun, "steps": rerun["steps"][1:], "generation": None, "verdict": None,
             "classifier": {"runs": rerun["classifier"]["runs"][:1]}}  # fmt: skip
    assert lost_results(old, fewer) == [
        "generation", "verdict", "steps.clean", "classifier.tfidf.runs.real+mine",
    ]  # fmt: skip
    assert lost_results({}, old) == []  # more is always fine
    # Feature kinds and domains: a summary of one kind and one domain (before issue 27) is
    # kept by one that has the same runs on that kind's first domain, and more beside them.
    runs = [{"name": "real"}, {"name": "real+mine"}]
    kinds = {"classifier": {
        "tfidf": {"domains": {"toxigen": {"runs": runs}, "paradetox": {"runs": runs}}},
        "minilm": {"domains": {"toxigen": {"runs": runs}, "paradetox": {"runs": runs[:1]}}},
    }}  # fmt: skip
    assert lost_results({"classifier": {"features": "tfidf", "runs": runs}}, kinds) == []
    assert lost_results({"classifier": {"features": "minilm", "runs": runs}}, kinds) == []
    gone = json.loads(json.dumps(kinds))
    del gone["classifier"]["tfidf"]["domains"]["paradetox"]
    gone["classifier"]["minilm"]["domains"]["toxigen"]["runs"] = runs[:1]
    assert lost_results(kinds, gone) == [
        "classifier.tfidf.paradetox.runs.real", "classifier.tfidf.paradetox.runs.real+mine",
        "classifier.minilm.runs.real+mine",
    ]  # fmt: skip
    assert lost_results({"stereoset": "odd", "steps": [1]}, {}) == ["stereoset"]  # old shapes
