"""The dataset card beside every cleaned set: Hugging Face's parser accepts it, its numbers are
report.json's, `register` keeps it in sync, and it never quotes a generated entry."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES

from synthpack.clean.card import read_header, size_category
from synthpack.cli import main

PROMPTS = FIXTURES / "smollm2_hate_prompts.jsonl"
PREDICTIONS = FIXTURES / "smollm2_hate_predictions.jsonl"
REQUIRED = ("license", "language", "task_categories", "size_categories", "tags", "pretty_name")


def check_card(folder: Path) -> tuple[dict, str]:
    """Parse OUT/README.md as the Hub does; check it against OUT/report.json; return both."""
    card_path = folder / "README.md"
    assert stat.S_IMODE(card_path.stat().st_mode) == 0o600
    report = json.loads((folder / "report.json").read_text())
    try:
        from huggingface_hub import DatasetCard
    except ImportError:  # the YAML parse and the required fields are the fallback check
        header, text = read_header(card_path), card_path.read_text()
    else:
        card = DatasetCard.load(card_path)
        header, text = card.data.to_dict(), card.text
        assert header == read_header(card_path)
    assert all(header.get(key) for key in REQUIRED), header
    assert "content-warning" in header["tags"]
    assert header["size_categories"] == [size_category(report["accepted"])]
    splits = header["dataset_info"]["splits"]
    assert splits == [{"name": "train", "num_examples": report["accepted"]}]
    assert "Content warning" in text
    counts = f"Entries parsed {report['entries_parsed']} = accepted {report['accepted']} + "
    assert counts + f"rejected {report['rejected']}" in text
    rows = dict(re.findall(r"^\| ([a-z_]+) \| (\d+) \|$", text, re.M))
    assert {k: int(v) for k, v in rows.items()} == report["rejected_by_reason"]
    for polarity, stats in report["by_polarity"].items():
        assert f"| {polarity} | {stats['accepted']} | {stats['duplication_rate_pct']} |" in text
    accepted = [json.loads(x)["text"] for x in (folder / "accepted.jsonl").open()]
    assert not any(entry in text for entry in accepted if len(entry) > 20), "no samples"
    return header, text


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
