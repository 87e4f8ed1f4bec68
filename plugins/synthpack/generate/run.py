"""Step 4, generate: the runner that writes a model's answers (or LLaMA-Factory's predictions)
into FOLDER/raw.jsonl, resumably, and their speed into FOLDER/generation_stats.json.

It does not clean: `synthpack generate` composes this step with clean and register.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl, private_dir
from synthpack.common.step import Context, StepSettings
from synthpack.generate.resumable import (
    batches_of,
    check_earlier_answers,
    generate_resumable,
    generation_provenance,
    predictions_provenance,
    read_prompts,
    rows_from_predictions,
)
from synthpack.models.backends import DEFAULT_BATCH_SIZE, Sampling
from synthpack.models.precision import Precision, as_precision
from synthpack.prompts.templates import list_versions

DEFAULT_SAMPLING = Sampling(max_new_tokens=512, temperature=0.8, top_p=0.95)
RAW = "raw.jsonl"
STATS = "generation_stats.json"


@dataclass(frozen=True)
class GenerateSettings(StepSettings):
    """A model (`model_dir` + `adapter_dir`) answering `prompts`, or its `predictions` read
    back; exactly one of the two. `restart` discards the answers of an earlier run."""

    step = "generate"
    prompts: Path
    model_dir: Path | None = None
    adapter_dir: Path | None = None
    backend: str = "hf"
    predictions: Path | None = None
    sampling: Sampling = DEFAULT_SAMPLING
    batch_size: int = DEFAULT_BATCH_SIZE
    samples: int = 1
    restart: bool = False
    precision: Precision | None = None  # None: `default_precision()`

    def __post_init__(self):
        if (self.model_dir is None) == (self.predictions is None):
            raise SynthpackError(
                "give either --model (to generate) or --predictions (to read), not both"
            )

    def reads(self) -> dict[str, Path | None]:
        return {
            "prompts": self.prompts,
            "model": self.model_dir,
            "adapter": self.adapter_dir,
            "predictions": self.predictions,
        }

    def writes(self, folder: Path) -> dict[str, Path]:
        return {"raw": Path(folder) / RAW, "stats": Path(folder) / STATS}


def run_generate(settings: GenerateSettings, folder: Path, context: Context = Context()) -> dict:
    """Answer every prompt into FOLDER/raw.jsonl; a rerun continues a stopped generation.

    Every input is read and checked before anything is written: a bad file leaves no folder.
    Returns the generation's numbers (also FOLDER/generation_stats.json).
    """
    s, folder = settings, Path(folder)
    prompts = read_prompts(s.prompts, list_versions())
    raw_rows = rows_from_predictions(prompts, s.predictions) if s.predictions else None
    raw_path = folder / RAW
    chosen = as_precision(s.precision) if s.backend == "hf" and not s.predictions else None
    batches, provenance = _layout(s, prompts, chosen)
    if not s.restart:  # another run's answers are never replaced, nor continued, silently
        check_earlier_answers(raw_path, batches, provenance)
    created = not folder.exists()
    try:
        private_dir(folder)
        if s.restart:
            raw_path.unlink(missing_ok=True)
        (folder / STATS).unlink(missing_ok=True)  # never beside answers it does not describe
        if raw_rows is not None:
            atomic_write_jsonl(raw_path, raw_rows)
            return {"prompts": len(prompts), "answers": len(raw_rows), "source": "predictions"}
        stats = generate_resumable(
            batches, raw_path, provenance, s.model_dir, s.adapter_dir, s.backend, s.sampling,
            progress_bar=context.progress_bar, precision=chosen,
        )  # fmt: skip
    except BaseException:
        if created:
            _remove_unfinished(folder)
        raise
    stats = {
        **stats,
        "seconds": round(stats["seconds"], 2),
        "tokens_per_s": round(stats["new_tokens"] / stats["seconds"], 2)
        if stats["seconds"]
        else None,
    }
    atomic_write_json(folder / STATS, stats)
    return stats


def _layout(s: GenerateSettings, prompts: list[dict], chosen: Precision | None):
    """The batches this run answers and the provenance its rows carry, built once: the check
    of an earlier run's rows and the generation use the same."""
    if s.predictions:
        return [[(p, 0)] for p in prompts], predictions_provenance(s.predictions)
    return batches_of(prompts, s.samples, s.batch_size), generation_provenance(
        s.model_dir, s.adapter_dir, s.backend, s.sampling, s.batch_size, chosen
    )


def _remove_unfinished(folder: Path) -> None:
    """Remove a folder this run created when it holds nothing worth resuming from (no
    generated rows); a stopped generation keeps its raw.jsonl so the rerun continues."""
    raw = folder / RAW
    if not raw.exists() or raw.stat().st_size == 0:
        shutil.rmtree(folder, ignore_errors=True)
