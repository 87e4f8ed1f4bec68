"""What every dataset card must say: the Hub's format, the report's counts, no samples.

Shared by the clean, demo and report tests (a helper module, not a test file)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

from synthpack.clean.card import read_header, size_category

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
