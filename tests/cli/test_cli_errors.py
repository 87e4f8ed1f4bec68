"""Every command answers bad input with one line and exit status 1 or 2; `--debug` shows the
traceback instead."""

from __future__ import annotations

from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main, one_line

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_sft_build_with_a_negative_count_is_a_usage_error():
    result = run("sft", "build", "--category", "hate", "--n-entries", "-3", "--out", "nowhere")
    assert result.exit_code == 2
    assert "Invalid value for '--n-entries': -3 is not in the range 1<=x<=1000." in result.output
    assert "Traceback" not in result.output and "Sample larger" not in result.output


def test_a_folder_given_as_a_file_is_named():
    result = run("generate", "--prompts", PROMPTS, "--predictions", FIXTURES, "--out", "o")
    assert result.exit_code == 1
    assert f"Error: {FIXTURES}: a folder, not a JSONL file" in result.output


def test_an_out_inside_a_file_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "out"  # a folder inside a file cannot be made
    result = run("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out)
    assert result.exit_code == 1
    assert f"Error: {blocker}: is a file" in result.output and "give a folder" in result.output


def test_an_os_error_below_the_checks_is_one_line_and_debug_shows_the_traceback(tmp_path):
    out = tmp_path / ("x" * 300)  # longer than a file name may be
    args = ("generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out)
    result = run(*args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: OSError: "), lines
    assert "File name too long" in lines[0] and "synthpack --debug" in lines[0]
    debug = run("--debug", *args)
    assert isinstance(debug.exception, OSError)  # the real error, with its traceback


def test_the_library_error_also_passes_through_with_debug(tmp_path):
    empty = tmp_path / "prompts.jsonl"
    empty.write_text("")
    args = ("generate", "--prompts", empty, "--predictions", PREDICTIONS, "--out", tmp_path / "o")
    assert run(*args).exit_code == 1
    assert type(run("--debug", *args).exception).__name__ == "SynthpackError"


def test_one_line_describes_undecodable_bytes_without_the_bytes():
    err = UnicodeDecodeError("utf-8", b"\xff\xfe", 0, 1, "invalid start byte")
    text = one_line(err)
    assert text.startswith("UnicodeDecodeError: invalid start byte at byte 0: the input is not")
    assert "\n" not in one_line(ValueError("two\nlines"))
