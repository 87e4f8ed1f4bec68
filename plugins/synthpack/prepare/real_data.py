"""Where a run's real data comes from, and the step that samples it.

ToxiGen (demonstrations as seeds, annotated texts for the classifier) and StereoSet, either
the subset shipped in dataset_info/demo or full copies in a folder (`--data`, or
`$SYNTHPACK_DATA`). `run_prepare` prepares the model and writes seeded train / eval samples of
the real labelled texts, plus the training texts of each class as seed files.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_jsonl, atomic_write_text, private_dir
from synthpack.common.paths import pack_dir
from synthpack.common.step import Context, StepSettings
from synthpack.formats.texts import dedupe, read_labelled, read_seeds
from synthpack.models.embedded import DEFAULT_MODEL, resolve_model

SHIPPED_DATA = "demo"  # under dataset_info/: the real subset a fresh clone runs on
REAL_TRAIN = "real_train.jsonl"
REAL_EVAL = "real_eval.jsonl"
SEED_CLASSES = {"positive": "pos", "negative": "neg"}  # seed_files() key -> polarity


@dataclass(frozen=True)
class RealData:
    """Where the real data comes from: ToxiGen and StereoSet, shipped or full copies.

    `annotated` is the pool the classifier's train and eval samples are drawn from, or, with
    `annotated_eval` set (the shipped subset), the fixed training file beside a fixed
    evaluation file.
    """

    toxigen: Path | None
    stereoset: Path | None
    annotated: Path | None = None
    annotated_eval: Path | None = None
    shipped: bool = False

    @property
    def description(self) -> dict:
        where = " (shipped subset, dataset_info/demo)" if self.shipped else ""
        classifier = (
            f"ToxiGen annotated {self.annotated.name}"
            + (f" + {self.annotated_eval.name}" if self.annotated_eval else "")
            + where
            if self.annotated
            else "synthpack's shipped demo seeds (48 texts: numbers are not meaningful)"
        )
        return {
            "seeds": f"ToxiGen demonstrations{where}"
            if self.toxigen
            else "synthpack's shipped demo seeds",
            "classifier_data": classifier,
            "stereoset": str(self.stereoset) if self.stereoset else None,
        }

    @property
    def folder(self) -> Path | None:
        """The folder a user named with --data (None: the shipped subset or nothing)."""
        if self.shipped:
            return None
        if self.toxigen:
            return self.toxigen.parent
        return self.stereoset.parents[1] if self.stereoset else None

    def seed_files(self) -> dict[str, list[Path]]:
        """ToxiGen's demonstration files per class; empty: the category's shipped seeds."""
        if not self.toxigen:
            return {}
        demos = self.toxigen / "demonstrations"
        return {
            "positive": sorted(demos.glob("*/hate_*.txt")),
            "negative": sorted(demos.glob("*/neutral_*.txt")),
        }


def shipped_data() -> RealData:
    """The seeded ToxiGen and StereoSet subset in dataset_info/demo (see its SOURCE.md)."""
    root = pack_dir("dataset_info") / SHIPPED_DATA
    annotated = root / "toxigen" / "annotated"
    return RealData(
        toxigen=root / "toxigen",
        stereoset=root / "stereoset" / "dev_intrasentence_300.json",
        annotated=annotated / "train.csv",
        annotated_eval=annotated / "eval.csv",
        shipped=True,
    )


def find_data(data_dir: Path | None) -> RealData:
    """Full copies in `data_dir` (or `$SYNTHPACK_DATA`), else the shipped subset.

    A folder without ToxiGen falls back to the category's 48 shipped seeds for the
    synthesis and the classifier (its report says the numbers mean nothing).
    """
    env = os.environ.get("SYNTHPACK_DATA")
    data_dir = Path(data_dir) if data_dir else Path(env) if env else None
    if data_dir is None:
        return shipped_data()
    toxigen = data_dir / "toxigen"
    stereoset = data_dir / "stereoset" / "dev.json"
    annotated = toxigen / "annotated" / "annotated_train.csv"
    has_toxigen = annotated.is_file() and any(toxigen.glob("demonstrations/*/hate_*.txt"))
    return RealData(
        toxigen if has_toxigen else None,
        stereoset if stereoset.is_file() else None,
        annotated if has_toxigen else None,
    )


def real_seed_file(folder: Path, polarity: str) -> Path:
    """The real training texts of one class, one per line (recipe `seeds: real_train`)."""
    return Path(folder) / f"real_train_{polarity}.txt"


@dataclass(frozen=True)
class PrepareSettings(StepSettings):
    """`real_train` + `real_eval` texts sampled (with `seed`) from `data`, and the model
    (`model`: an embedded model's name, or a model folder) made ready."""

    step = "prepare"
    data: RealData
    real_train: int
    real_eval: int
    seed: int = 0
    model: str | Path = DEFAULT_MODEL
    # The category's shipped seed files: they stand in when `data` has no ToxiGen.
    fallback_positive: tuple[Path, ...] = ()
    fallback_negative: tuple[Path, ...] = ()

    def reads(self) -> dict[str, Path | None]:
        return {"annotated": self.data.annotated, "annotated_eval": self.data.annotated_eval}

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"real_train": Path(folder) / REAL_TRAIN, "real_eval": Path(folder) / REAL_EVAL,
                **{f"seeds_{p}": real_seed_file(folder, p) for p in ("pos", "neg")}}  # fmt: skip


def run_prepare(settings: PrepareSettings, folder: Path, context: Context = Context()) -> dict:
    """Prepare the model and write the seeded samples; returns the model folder and the counts."""
    model_dir = resolve_model(settings.model)
    return {"model_dir": str(model_dir), **write_real_data(settings, Path(folder))}


def write_real_data(settings: PrepareSettings, folder: Path) -> dict:
    """Seeded train / eval samples of real labelled text for the classifier."""
    s, data = settings, settings.data
    eval_pairs = None
    if data.annotated:
        real = read_labelled(data.annotated)
        pairs = list(zip(real.texts, real.labels, strict=True))
        n_train, n_eval = s.real_train, s.real_eval
        if data.annotated_eval:  # a fixed held-out file (the shipped subset)
            held = read_labelled(data.annotated_eval)
            eval_pairs = list(zip(held.texts, held.labels, strict=True))
    else:
        # The category's shipped seeds, read (and deduplicated) as the render step reads them.
        kept, _ = dedupe(
            read_seeds(positive=list(s.fallback_positive), negative=list(s.fallback_negative))
        )
        pairs = [(r.text, 1) for r in kept if r.label == "pos"]
        pairs += [(r.text, 0) for r in kept if r.label == "neg"]
        n_eval = len(pairs) // 3
        n_train = len(pairs) - n_eval
    random.Random(s.seed).shuffle(pairs)
    if eval_pairs is None:  # one pool: the eval sample follows the training sample
        pairs, eval_pairs = pairs[:n_train], pairs[n_train:]
    if n_train > len(pairs) or n_eval > len(eval_pairs):
        raise SynthpackError(
            f"{n_train} training + {n_eval} evaluation texts asked for, "
            f"{len(pairs)} + {len(eval_pairs)} exist "
            f"({data.description['classifier_data']})"
            + ("; pass --data DIR with full copies" if data.shipped else "")
        )
    private_dir(folder)
    atomic_write_jsonl(folder / REAL_TRAIN, [{"text": t, "label": y} for t, y in pairs[:n_train]])
    atomic_write_jsonl(
        folder / REAL_EVAL, [{"text": t, "label": y} for t, y in eval_pairs[:n_eval]]
    )
    for polarity, label in (("pos", 1), ("neg", 0)):  # the same texts as seed files
        lines = [" ".join(t.split()) for t, y in pairs[:n_train] if y == label]
        atomic_write_text(real_seed_file(folder, polarity), "\n".join(lines) + "\n")
    return {"real_train": n_train, "real_eval": n_eval}
