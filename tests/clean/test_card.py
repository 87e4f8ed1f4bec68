"""The dataset card beside every cleaned set: Hugging Face's parser accepts it, its numbers are
report.json's, `register` keeps it in sync, and it never quotes a generated entry."""

from __future__ import annotations

from card_checks import check_card
from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"


def test_generate_writes_a_card_that_register_keeps_in_sync(tmp_path):
    out = tmp_path / "gen"
    args = ["generate", "--prompts", PROMPTS, "--predictions", PREDICTIONS, "--out", out]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    _, text = check_card(out)
    assert f"synthpack generate --prompts {PROMPTS}" not in text  # CliRunner has no real argv
    assert "not registered yet" in text

    dataset_dir = tmp_path / "data"
    result = CliRunner().invoke(
        main, ["register", "hate_gen", str(out / "alpaca.json"), "--dataset-dir", str(dataset_dir)]
    )
    assert result.exit_code == 0, result.output
    _, text = check_card(out)
    assert f"registered as `hate_gen` in `{dataset_dir / 'dataset_info.json'}`" in text


def test_the_card_names_the_cleaning_settings_and_the_exact_command(tmp_path):
    from synthpack.clean.dedup import DedupSettings
    from synthpack.clean.run import CleanSettings, run_clean
    from synthpack.generate.run import GenerateSettings, run_generate

    out = tmp_path / "gen"
    command = f"synthpack generate --prompts {PROMPTS} --predictions {PREDICTIONS} --out {out}"
    run_generate(GenerateSettings(PROMPTS, predictions=PREDICTIONS), out)
    run_clean(CleanSettings(out, PROMPTS, dedup=DedupSettings(threshold=0.6), command=command), out)
    header, text = check_card(out)
    assert header["license"] == "other"  # no seed manifest beside the fixture: nothing known
    assert f"```bash\n{command}\n```" in text
    assert '"threshold": 0.6' in text and "semantic_dedup null" in text
    assert "| - | - | llamafactory-predictions |" in text
    assert f"Answers read from LLaMA-Factory's predictions: `{PREDICTIONS}`." in text
