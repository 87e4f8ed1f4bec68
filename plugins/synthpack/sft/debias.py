"""`synthpack sft debias`: SR_LLM instruction data (SPEC Pipeline B steps 1-2).

Turns CMD-schema rows (a text, its labels, the biased words and a benign rewrite) or plain
rewrite pairs (ParaDetox's TSV: a toxic sentence and up to three neutral paraphrases) into
Alpaca records with a `system` field. LLaMA-Factory's stock `llama2` template then lays them
out as `<s>[INST] <<SYS>>...<</SYS>> instruction + input [/INST] output </s>`.
The split is by source text, so the paraphrases of one sentence stay on one side.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_rejects
from synthpack.common.problems import Problems, names_shown, shown
from synthpack.common.step import Context, StepSettings
from synthpack.formats.dataset_info import (
    check_dataset_name,
    read_dataset_info,
    write_alpaca_dataset,
)
from synthpack.formats.pairs import read_pairs, split_by_source
from synthpack.formats.texts import clean_text, is_table, iter_rows
from synthpack.prompts.templates import render_debias_instruction, render_debias_system

# CMD label columns and their allowed values (case-insensitive).
CMD_LABELS = {
    "bias": ("yes", "no"),
    "toxicity": ("no", "mild", "high"),
    "sentiment": ("negative", "neutral", "positive"),
    "harm": ("low", "medium", "high"),
}
# Other spellings of CMD columns seen in the paper and in exports of the dataset.
CMD_ALIASES = {
    "safe_variation": "benign_variation",
    "benign": "benign_variation",
    "rewrite": "benign_variation",
    "target_demographic": "target",
    "negative_sentiment": "sentiment",
}


def _norm_key(key: str) -> str:
    key = "_".join(str(key).strip().casefold().replace("-", " ").split())
    return CMD_ALIASES.get(key, key)


def _flatten(row: dict) -> dict:
    """`{"labels": {"Bias": ...}}` and `Biased Words` become flat snake_case keys."""
    flat = {}
    for key, value in row.items():
        if isinstance(value, dict) and _norm_key(key) == "labels":
            flat.update({_norm_key(k): v for k, v in value.items()})
        else:
            flat[_norm_key(key)] = value
    return flat


def parse_biased_words(value) -> list[str]:
    """A list, or a string like `"too sensitive", "don't understand"` / `a; b`."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [clean_text(v) for v in value if str(v).strip()]
    parts = str(value).replace(";", ",").split(",")
    return [clean_text(p).strip("\"' ") for p in parts if p.strip("\"' ")]


def read_cmd(path: Path) -> tuple[list[dict], list[dict]]:
    """CMD rows as {text, rewrite, labels, biased_words}; rows without a rewrite are rejected.

    Bad label values and missing text columns fail, naming file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise SynthpackError(f"{path}: CMD file not found")
    rows, rejects, problems = [], [], Problems(path)
    for line, raw, problem in iter_rows(path):
        if problem or not isinstance(raw, dict):
            problems.add(problem or "expected a record with named fields", line)
            continue
        row = _flatten(raw)
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            fields = names_shown(row, is_table(path))
            problems.add(f"missing or empty ({fields})", line, "text")
            continue
        labels = {}
        for field, allowed in CMD_LABELS.items():
            value = row.get(field)
            if value in (None, ""):
                continue
            if str(value).strip().casefold() not in allowed:
                problems.add(f"{shown(value)} is not one of {allowed}", line, field)
            labels[field] = str(value).strip().casefold()
        if "benign_variation" not in row:
            problems.add("missing column", line, "benign_variation")
            continue
        rewrite = row.get("benign_variation")
        record = {"line": line, "text": clean_text(text), "labels": labels}
        if not isinstance(rewrite, str) or not rewrite.strip():
            rejects.append({**record, "reason": "no benign_variation (nothing to learn from)"})
            continue
        record["rewrite"] = clean_text(rewrite)
        record["biased_words"] = parse_biased_words(row.get("biased_words"))
        record["target"] = row.get("target")
        rows.append(record)
    problems.raise_if_any()
    if not rows and not rejects:
        raise SynthpackError(f"{path}: empty file (no rows)")
    return rows, rejects


def to_alpaca(row: dict, system: str, hint_biased_words: bool, templates_dir=None) -> dict:
    words = row["biased_words"] if hint_biased_words else []
    return {
        "system": system,
        "instruction": render_debias_instruction(words, templates_dir),
        "input": row["text"],
        "output": row["rewrite"],
    }


@dataclass(frozen=True)
class DebiasSftSettings(StepSettings):
    """One debias SFT set from `source` (`build_debias`'s arguments)."""

    step = "sft_debias"
    source: Path
    kind: str = "pairs"
    name: str | None = None
    system: str = "general"
    val_ratio: float = 0.1
    seed: int = 0
    hint_biased_words: bool = False
    source_field: str = "toxic"
    target_fields: tuple[str, ...] | None = None
    dataset_dir: Path | None = None  # None: the output folder
    templates_dir: Path | None = None

    def reads(self) -> dict[str, Path | None]:
        return {"source": self.source}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"dataset_info": Path(self.dataset_dir or folder) / "dataset_info.json"}

    def preflight(self, folder: Path) -> None:
        """The names the set is registered under (a file name such as `my pairs.tsv` makes
        a bad default) and the dataset_info.json they go into, before anything is written."""
        check_dataset_name(f"{debias_name(self.name, self.source)}_train")
        read_dataset_info(Path(self.dataset_dir or folder))


def debias_name(name: str | None, source: Path) -> str:
    """The set's stem: the name given, else `debias_<file stem>`."""
    return name or f"debias_{Path(source).stem}"


def run_debias_sft(settings: DebiasSftSettings, folder: Path, context: Context = Context()) -> dict:
    """The debias SFT step: `build_debias` with these settings; returns its manifest."""
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    source = fields.pop("source")
    targets = fields.pop("target_fields")
    return build_debias(source, Path(folder), target_fields=list(targets) if targets else None,
                        **fields)  # fmt: skip


def build_debias(
    source: Path,
    out_dir: Path,
    *,
    kind: str = "pairs",
    name: str | None = None,
    system: str = "general",
    val_ratio: float = 0.1,
    seed: int = 0,
    hint_biased_words: bool = False,
    source_field: str = "toxic",
    target_fields: list[str] | None = None,
    dataset_dir: Path | None = None,
    templates_dir: Path | None = None,
) -> dict:
    """Convert, split, write and register a debias SFT set; returns its manifest.

    Writes `<out>/<name>/{train,val}.json`, `rejects.jsonl`, `manifest.json`; registers
    `<name>_train` / `<name>_val` (with the `system` column) in dataset_dir (default out_dir).
    """
    if kind == "cmd":
        rows, rejects = read_cmd(source)
    elif kind == "pairs":
        rows, rejects = read_pairs(source, source_field, target_fields)
    else:
        raise SynthpackError(f"Unknown input kind {kind!r}. Available: cmd, pairs")
    if not 0 <= val_ratio < 1:
        raise SynthpackError("--val-ratio must be in [0, 1)")
    if not rows:  # an empty set is no set: fail before writing one, naming the reasons
        reasons = Counter(r["reason"] for r in rejects)
        raise SynthpackError(
            f"{source}: no (source, rewrite) pair to train on; all {len(rejects)} row(s) "
            f"rejected ({', '.join(f'{k}: {n}' for k, n in sorted(reasons.items()))})"
        )
    name = debias_name(name, source)
    system_text = render_debias_system(system, templates_dir)
    train, val, crossing = split_by_source(rows, seed, ratio=val_ratio)
    rejects = rejects + crossing
    folder = Path(out_dir) / name
    dataset_dir = Path(dataset_dir) if dataset_dir else Path(out_dir)
    manifest = {
        "name": name,
        "source": str(source),
        "kind": kind,
        "system": system,
        "hint_biased_words": hint_biased_words,
        "val_ratio": val_ratio,
        "seed": seed,
        "pairs_read": len(rows),
        "records": {"train": len(train), "val": len(val)},
        "rejected": len(rejects),
        "datasets": {},
    }
    for split, records in (("train", train), ("val", val)):
        if not records:
            continue
        path = folder / f"{split}.json"
        alpaca = [to_alpaca(r, system_text, hint_biased_words, templates_dir) for r in records]
        dataset = f"{name}_{split}"
        write_alpaca_dataset(dataset_dir, dataset, path, alpaca, system=True)
        manifest["datasets"][dataset] = str(path)
    atomic_write_rejects(folder / "rejects.jsonl", rejects)
    manifest["dataset_dir"] = str(dataset_dir)
    atomic_write_json(folder / "manifest.json", manifest)
    return manifest
