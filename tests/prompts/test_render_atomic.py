"""`render` is all or nothing, and `category new` tells a fork's user every option they need."""

from __future__ import annotations

import json

from click.testing import CliRunner

from synthpack.cli import main
from synthpack.common.paths import pack_dir
from synthpack.prompts.scaffold import next_steps


def render(*args):
    return CliRunner().invoke(main, ["render", *[str(a) for a in args]])


def seeds(path, n):
    path.write_text(
        "".join(f"an everyday sentence number {i} about the weather\n" for i in range(n))
    )
    return path


def test_a_render_failing_on_its_second_stem_writes_and_registers_nothing(tmp_path):
    out = tmp_path / "prompts"
    # pos renders from the shipped seeds; neg has 2 texts for 3 shots and fails after it.
    neg = seeds(tmp_path / "neg.txt", 2)
    args = ("--category", "hate", "--versions", "v1", "--shots", 3, "--neg", neg, "--out", out)
    result = render(*args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "hate_neg_v1: 3 examples per prompt asked for, but only" in result.output
    assert not out.exists()


def test_a_failed_render_leaves_the_previous_one_as_it_was(tmp_path):
    out = tmp_path / "prompts"
    good = seeds(tmp_path / "good.txt", 20)
    args = ("--category", "hate", "--versions", "v1", "--shots", 3, "--n-prompts", 2)
    assert render(*args, "--neg", good, "--out", out).exit_code == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    result = render(*args, "--n-entries", 7, "--neg", seeds(tmp_path / "few.txt", 2), "--out", out)
    assert result.exit_code == 1
    after = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before  # nothing half-replaced, no staging folder left
    again = render(*args, "--n-entries", 7, "--neg", good, "--out", out)
    assert again.exit_code == 0, again.output
    records = [json.loads(x) for x in (out / "hate_pos_v1" / "prompts.jsonl").open()]
    assert {r["n_entries"] for r in records} == {7}
    assert not list(out.glob(".render-*"))
    info = json.loads((out / "dataset_info.json").read_text())
    assert sorted(info) == ["hate_neg_v1", "hate_pos_v1"]


def test_bad_counts_are_usage_errors_not_tracebacks(tmp_path):
    for option, value in (("--n-entries", -3), ("--n-prompts", 0), ("--shots", -1)):
        result = render("--category", "hate", option, value, "--out", tmp_path / "o")
        assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output
    assert not (tmp_path / "o").exists()


def test_the_hint_for_a_fork_names_its_templates_folder(tmp_path):
    fork = tmp_path / "fork"
    hint = next_steps("scam", fork)
    assert f"synthpack render --category scam --templates {fork / 'templates'}\n" in hint
    assert (
        f"synthpack sft build --category scam --templates {fork / 'templates'} "
        f"--out {fork / 'dataset_info'}/sft --dataset-dir {fork / 'dataset_info'}"
    ) in hint
    own = next_steps("scam", pack_dir("templates").parent)
    assert "--templates" not in own and "--dataset-dir dataset_info" in own
