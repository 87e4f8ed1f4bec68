"""The real data shipped in dataset_info/demo: it loads through synthpack's own readers, its
counts are those its SOURCE note states, it is small, and the demo finds it by default."""

from __future__ import annotations

import filecmp
import re
import subprocess
import sys
from pathlib import Path

from conftest import shared_data

from synthpack.common.paths import pack_dir
from synthpack.evaluate.crows_pairs import load_crows_pairs
from synthpack.evaluate.stereoset import load_stereoset
from synthpack.formats.pairs import read_pairs
from synthpack.formats.texts import iter_rows, read_labelled, read_seeds
from synthpack.prepare.real_data import find_data

DEMO = pack_dir("dataset_info") / "demo"
PARADETOX = DEMO / "paradetox" / "paradetox_2400.tsv"
CROWS_PAIRS = DEMO / "crows_pairs" / "crows_pairs_300.csv"
PARADETOX_PAIRS = 4005  # SOURCE.md: one per non-empty neutral paraphrase


def _source_counts() -> dict[str, tuple[int, int | None]]:
    """The rows of SOURCE.md's "Counts" table: file -> (texts, harmful)."""
    text = (DEMO / "SOURCE.md").read_text(encoding="utf-8")
    table = text.split("## Counts", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\S+) \| \S+ \| (\d+) \| (\d+|-) \|$", table, flags=re.M)
    return {f: (int(n), None if h == "-" else int(h)) for f, n, h in rows}


def _read(pattern: str) -> tuple[int, int | None]:
    if pattern.startswith("paradetox/"):
        pairs, _ = read_pairs(DEMO / pattern)
        return len({p["line"] for p in pairs}), None  # source sentences
    if pattern.startswith("crows_pairs/"):
        return len(load_crows_pairs(DEMO / pattern)), None
    if pattern.endswith(".csv"):
        data = read_labelled(DEMO / pattern)
        return len(data), data.n_harmful
    if pattern.endswith(".json"):
        return len(load_stereoset(DEMO / pattern)["intrasentence"]), None
    files = sorted(DEMO.glob(pattern))
    polarity = "positive" if "hate_" in pattern else "negative"
    rows = read_seeds(**{polarity: files})
    return len(rows), sum(r.label == "pos" for r in rows)


def test_shipped_files_load_and_match_their_source_note():
    counts = _source_counts()
    assert len(counts) == 7, counts
    for pattern, expected in counts.items():
        assert _read(pattern) == expected, pattern
    train = set(read_labelled(DEMO / "toxigen/annotated/train.csv").texts)
    assert not train & set(read_labelled(DEMO / "toxigen/annotated/eval.csv").texts)


def test_paradetox_gives_one_pair_per_paraphrase():
    pairs, rejects = read_pairs(PARADETOX)  # source "toxic", targets neutral1..3
    assert (len({p["line"] for p in pairs}), len(pairs), rejects) == (2400, PARADETOX_PAIRS, [])
    rows = [row for _, row, _ in iter_rows(PARADETOX)]
    assert len(rows) == 2400 and list(rows[0]) == ["toxic", "neutral1", "neutral2", "neutral3"]
    assert sum(bool(v) for row in rows for k, v in row.items() if k != "toxic") == len(pairs)
    assert len(PARADETOX.read_bytes().splitlines()) == 2401  # one physical line per row


def test_crows_pairs_keeps_every_bias_type():
    pairs = load_crows_pairs(CROWS_PAIRS)
    assert len(pairs) == 300
    assert {p.bias_type for p in pairs} == {
        "race-color", "gender", "socioeconomic", "nationality", "religion", "age",
        "sexual-orientation", "physical-appearance", "disability",
    }  # fmt: skip
    assert {p.direction for p in pairs} == {"stereo", "antistereo"}


def test_licences_warning_and_size():
    toxigen = (DEMO / "toxigen" / "LICENSE.txt").read_text()
    assert "MIT License" in toxigen
    assert "Community Data License Agreement - Permissive - Version 2.0" in toxigen
    assert "Attribution-ShareAlike 4.0" in (DEMO / "stereoset" / "LICENSE.md").read_text()
    assert "Attribution-ShareAlike 4.0" in (DEMO / "crows_pairs" / "LICENSE.md").read_text()
    assert "CC0 1.0 Universal" in (DEMO / "paradetox" / "LICENSE").read_text()
    assert "offensive" in (DEMO / "OFFENSIVE-CONTENT.md").read_text().lower()
    groups = {p.parent.name for p in DEMO.glob("toxigen/demonstrations/*/*.txt")}
    assert groups == {"disability", "nationality", "race", "religion", "sexual_orientation"}
    size = sum(p.stat().st_size for p in DEMO.rglob("*") if p.is_file())
    assert size < 2_000_000, f"{size} bytes: the shipped data must stay small"


def test_the_demo_uses_the_shipped_data_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("SYNTHPACK_DATA", raising=False)
    data = find_data(None)
    assert data.shipped and data.annotated_eval.name == "eval.csv"
    assert len(data.seed_files()["positive"]) == 15 and data.stereoset.is_file()
    assert "shipped subset" in data.description["classifier_data"]
    monkeypatch.setenv("SYNTHPACK_DATA", str(tmp_path))
    assert not find_data(None).shipped  # a larger copy wins when it is named


def test_the_script_rebuilds_the_same_bytes(tmp_path):
    source = shared_data()
    shared_data("toxigen", "annotated", "annotated_train.csv")
    shared_data("paradetox", "paradetox.tsv")
    shared_data("crows_pairs", "crows_pairs_anonymized.csv")
    subprocess.run(
        [sys.executable, str(DEMO / "make_subset.py"), str(source), str(tmp_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built, "the script wrote nothing"
    for relative in built:
        assert filecmp.cmp(tmp_path / relative, DEMO / relative, shallow=False), relative
    shipped = {p.relative_to(DEMO) for p in DEMO.rglob("*") if p.is_file()}
    notes = ("SOURCE.md", "OFFENSIVE-CONTENT.md", "make_subset.py", ".gitattributes")
    assert shipped - set(built) == {Path(n) for n in notes}
