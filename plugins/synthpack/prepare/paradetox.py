"""The debias demo's data: ParaDetox's (toxic sentence -> neutral paraphrases) pairs, split by
source sentence, and the bias benchmarks, either shipped in dataset_info/demo or full copies.

`run_prepare_debias` prepares the model and writes, from one seeded split by source sentence:
- `sft_pairs.jsonl`: one (toxic, neutral) pair per row from the training sources (the SFT step
  holds out its own validation sources from these);
- `test.jsonl`: the held-out toxic sentences with their paraphrases as references;
- `judge_train.jsonl` / `judge_eval.jsonl`: labelled texts for the toxicity judge, toxic = 1
  and neutral = 0, from the training sources and from the held-out gold pairs. No text of the
  held-out sentences or their paraphrases is in the judge's training texts.

`run_transfer_eval` serves the synthesis demo instead: a balanced second-domain evaluation set
for its classifier (`transfer_eval.jsonl`), each chosen toxic sentence (1) beside its first
human-written neutral paraphrase (0), picked by a fixed rule (`transfer_eval_rows`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_jsonl, private_dir
from synthpack.common.paths import pack_dir
from synthpack.common.problems import Problems
from synthpack.common.step import Context, StepSettings
from synthpack.common.text import text_key
from synthpack.formats.pairs import read_pairs, split_by_source
from synthpack.models.embedded import DEFAULT_MODEL, resolve_model
from synthpack.prepare.real_data import SHIPPED_DATA

SFT_PAIRS = "sft_pairs.jsonl"
TEST_TEXTS = "test.jsonl"
JUDGE_TRAIN = "judge_train.jsonl"
JUDGE_EVAL = "judge_eval.jsonl"
NEUTRAL_FIELDS = ("neutral1", "neutral2", "neutral3")  # ParaDetox's paraphrase columns
TRANSFER_EVAL = "transfer_eval.jsonl"
TRANSFER_PER_CLASS = 500  # toxic sentences, and as many paraphrases: 1,000 texts


@dataclass(frozen=True)
class DebiasData:
    """Where the debias demo's data comes from: each part from `--data` when it is there,
    else the shipped subset."""

    pairs: Path  # ParaDetox TSV: toxic, neutral1..3
    stereoset: Path
    crows_pairs: Path

    @property
    def description(self) -> dict:
        return {"rewrite_pairs": str(self.pairs), "stereoset": str(self.stereoset),
                "crows_pairs": str(self.crows_pairs)}  # fmt: skip


def find_debias_data(data_dir: Path | None) -> DebiasData:
    """Full copies in `data_dir` (or `$SYNTHPACK_DATA`) where present, else the shipped ones."""
    env = os.environ.get("SYNTHPACK_DATA")
    data_dir = Path(data_dir) if data_dir else Path(env) if env else None
    shipped = pack_dir("dataset_info") / SHIPPED_DATA
    parts = {
        "pairs": ("paradetox/paradetox.tsv", "paradetox/paradetox_2400.tsv"),
        "stereoset": ("stereoset/dev.json", "stereoset/dev_intrasentence_300.json"),
        "crows_pairs": ("crows_pairs/crows_pairs_anonymized.csv",
                        "crows_pairs/crows_pairs_300.csv"),
    }  # fmt: skip
    found = {}
    for name, (full, subset) in parts.items():
        given = data_dir / full if data_dir else None
        found[name] = given if given and given.is_file() else shipped / subset
    return DebiasData(**found)


@dataclass(frozen=True)
class PrepareDebiasSettings(StepSettings):
    """`test_sources` held-out toxic sentences and `train_sources` training ones, drawn (with
    `seed`) from `pairs`; `model` (an embedded model's name, or a folder) made ready."""

    step = "prepare"
    pairs: Path
    train_sources: int
    test_sources: int
    seed: int = 0
    model: str | Path = DEFAULT_MODEL

    def reads(self) -> dict[str, Path | None]:
        return {"pairs": self.pairs}

    def writes(self, folder: Path) -> dict[str, Path]:
        names = (SFT_PAIRS, TEST_TEXTS, JUDGE_TRAIN, JUDGE_EVAL)
        return {name.split(".")[0]: Path(folder) / name for name in names}


def run_prepare_debias(
    settings: PrepareDebiasSettings, folder: Path, context: Context = Context()
) -> dict:
    """Prepare the model and write the split; returns the model folder and the counts."""
    s, folder = settings, Path(folder)
    model_dir = resolve_model(s.model)
    rows, rejects = read_pairs(s.pairs, "toxic", list(NEUTRAL_FIELDS))
    # A "paraphrase" that is the toxic sentence again teaches copying; ParaDetox has a few.
    copies = [r for r in rows if text_key(r["text"]) == text_key(r["rewrite"])]
    rows = [r for r in rows if text_key(r["text"]) != text_key(r["rewrite"])]
    train, test, crossing = split_by_source(rows, s.seed, count=s.test_sources)
    train_sources = _by_source(train)[: s.train_sources]
    if len(train_sources) < s.train_sources:
        context.echo(f"only {len(train_sources)} training sources exist ({s.pairs})")
    test_sources = _by_source(test)
    private_dir(folder)
    atomic_write_jsonl(folder / SFT_PAIRS, [{"toxic": text, "neutral": rewrite}
                                            for text, rewrites in train_sources
                                            for rewrite in rewrites])  # fmt: skip
    atomic_write_jsonl(
        folder / TEST_TEXTS,
        [{"id": f"test-{n}", "original": text, "reference": rewrites[0], "references": rewrites}
         for n, (text, rewrites) in enumerate(test_sources)],
    )  # fmt: skip
    # The judge: every side of the training sources, never a text of the held-out sentences.
    held = {text_key(t) for text, rewrites in test_sources for t in (text, *rewrites)}
    judge_train = _labelled(train_sources)
    kept = [row for row in judge_train if text_key(row["text"]) not in held]
    atomic_write_jsonl(folder / JUDGE_TRAIN, kept)
    atomic_write_jsonl(folder / JUDGE_EVAL, _labelled([(t, r[:1]) for t, r in test_sources]))
    n_train, n_test = (sum(len(r) for _, r in part) for part in (train_sources, test_sources))
    return {
        "model_dir": str(model_dir),
        # pairs_read = copies + crossing_split + train + test + unused (sources beyond the size)
        "pairs_read": len(rows) + len(copies),
        "pairs_dropped_as_copies": len(copies),
        "pairs_crossing_split": len(crossing),
        "pairs_train": n_train,
        "pairs_test": n_test,
        "pairs_unused": len(rows) - len(crossing) - n_train - n_test,
        "rows_rejected": len(rejects),
        "train_sources": len(train_sources),
        "test_sources": len(test_sources),
        "judge_train": len(kept),
        "judge_train_dropped_as_test_text": len(judge_train) - len(kept),
    }


def _by_source(rows: list[dict]) -> list[tuple[str, list[str]]]:
    """(source text, its rewrites), in the order the split gave the sources."""
    grouped: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        grouped.setdefault(text_key(row["text"]), (row["text"], []))[1].append(row["rewrite"])
    return list(grouped.values())


def _labelled(sources: list[tuple[str, list[str]]]) -> list[dict]:
    """Toxic (1) and neutral (0) texts of the given sources, each distinct text once."""
    seen, out = set(), []
    for text, rewrites in sources:
        for t, label in ((text, 1), *((r, 0) for r in rewrites)):
            if text_key(t) not in seen:
                seen.add(text_key(t))
                out.append({"text": t, "label": label})
    return out


def transfer_eval_rows(pairs: Path, per_class: int = TRANSFER_PER_CLASS) -> tuple[list[dict], dict]:
    """A balanced evaluation set from ParaDetox: `per_class` toxic sentences (label 1) and, for
    each, its first paraphrase that is not the sentence again (label 0); returns (rows, counts).

    The rule, fixed so anyone gets the same rows: in file order keep every sentence that has
    such a paraphrase and shares no text with a sentence kept before it (by the "same text"
    key), then take the candidates at positions i * n // per_class, i = 0 .. per_class - 1,
    evenly spaced through the file. Each row keeps its line in `pairs`. A row without a toxic
    sentence or without any paraphrase is an error naming its line and field.
    """
    rows, rejects = read_pairs(pairs, "toxic", list(NEUTRAL_FIELDS))
    problems = Problems(pairs, noun="bad row(s)")
    for reject in rejects:
        field = "toxic" if reject["reason"].startswith("empty") else ",".join(NEUTRAL_FIELDS)
        problems.add(f"{reject['reason']}: every row needs a toxic sentence and a paraphrase",
                     reject["line"], field)  # fmt: skip
    problems.raise_if_any()
    candidates, used, copies_only, clashes = [], set(), 0, 0
    for text, rewrites, line in _sources_in_order(rows):
        neutral = next((r for r in rewrites if text_key(r) != text_key(text)), None)
        if neutral is None:
            copies_only += 1
            continue
        keys = {text_key(text), text_key(neutral)}
        if keys & used:
            clashes += 1
            continue
        used |= keys
        candidates.append((line, text, neutral))
    if len(candidates) < per_class:
        raise SynthpackError(
            f"{pairs}: {per_class} toxic sentences with a distinct paraphrase asked for, "
            f"{len(candidates)} exist; ask for fewer"
        )
    chosen = [candidates[i * len(candidates) // per_class] for i in range(per_class)]
    out = [{"text": t, "label": y, "line": line}
           for line, text, neutral in chosen for t, y in ((text, 1), (neutral, 0))]  # fmt: skip
    counts = {
        "source": str(pairs),
        "sentences_read": len(candidates) + copies_only + clashes,
        "sentences_only_copied": copies_only,
        "sentences_sharing_a_text": clashes,
        "candidates": len(candidates),
        "toxic": per_class,
        "neutral": per_class,
        "lines": [line for line, _, _ in chosen],
    }
    return out, counts


def _sources_in_order(rows: list[dict]) -> list[tuple[str, list[str], int]]:
    """(toxic sentence, its paraphrases in column order, its line), in file order."""
    grouped: dict[str, tuple[str, list[str], int]] = {}
    for row in rows:
        key = text_key(row["text"])
        grouped.setdefault(key, (row["text"], [], row["line"]))[1].append(row["rewrite"])
    return list(grouped.values())


@dataclass(frozen=True)
class TransferEvalSettings(StepSettings):
    """The synthesis demo's second evaluation domain: `per_class` toxic ParaDetox sentences and
    as many neutral paraphrases, chosen from `pairs` by `transfer_eval_rows`' fixed rule."""

    step = "transfer_eval"
    pairs: Path
    per_class: int = TRANSFER_PER_CLASS

    def reads(self) -> dict[str, Path | None]:
        return {"pairs": self.pairs}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"transfer_eval": Path(folder) / TRANSFER_EVAL}


def run_transfer_eval(
    settings: TransferEvalSettings, folder: Path, context: Context = Context()
) -> dict:
    """Write FOLDER/transfer_eval.jsonl; returns the counts (the lines used among them)."""
    rows, counts = transfer_eval_rows(settings.pairs, settings.per_class)
    private_dir(folder)
    atomic_write_jsonl(Path(folder) / TRANSFER_EVAL, rows)
    context.echo(
        f"transfer evaluation set: {counts['toxic']} toxic + {counts['neutral']} neutral "
        f"ParaDetox texts from {counts['candidates']} candidates ({settings.pairs})"
    )
    return counts
