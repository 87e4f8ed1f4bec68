"""Step 4, generate: the runner that writes a model's answers into FOLDER/raw.jsonl, resumably,
and their speed into FOLDER/generation_stats.json. The answers come from one of three places:
a model loaded here (`model_dir`), OpenAI-compatible servers (`endpoints`), or LLaMA-Factory's
predictions read back (`predictions`).

It does not clean: `synthpack generate` composes this step with clean and register.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, atomic_write_jsonl, private_dir
from synthpack.common.step import Context, StepSettings
from synthpack.generate.from_endpoints import endpoint_provenance, generate_from_endpoints
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
from synthpack.models.endpoints import Endpoints, check_endpoints
from synthpack.models.precision import Precision, as_precision
from synthpack.prompts.templates import list_versions

DEFAULT_SAMPLING = Sampling(max_new_tokens=512, temperature=0.8, top_p=0.95)
RAW = "raw.jsonl"
STATS = "generation_stats.json"


@dataclass(frozen=True)
class GenerateSettings(StepSettings):
    """Who answers `prompts`: a model loaded here (`model_dir` + `adapter_dir`), servers
    (`endpoints`), or a model's `predictions` read back; exactly one of the three.
    `batch_size` and `precision` are the loaded model's. `restart` discards the answers of an
    earlier run."""

    step = "generate"
    prompts: Path
    model_dir: Path | None = None
    adapter_dir: Path | None = None
    endpoints: Endpoints | None = None
    predictions: Path | None = None
    sampling: Sampling = DEFAULT_SAMPLING
    batch_size: int = DEFAULT_BATCH_SIZE
    samples: int = 1
    restart: bool = False
    precision: Precision | None = None  # None: `default_precision()`

    def __post_init__(self):
        given = [self.model_dir, self.endpoints, self.predictions]
        if sum(x is not None for x in given) != 1:
            raise SynthpackError(
                "give one of --model (generate here), --endpoint (generate on servers) or "
                "--predictions (read a model's answers)"
            )
        if self.adapter_dir is not None and self.model_dir is None:
            raise SynthpackError(
                "--adapter goes with --model; a server loads its own adapter (serve the merged "
                "model, or the adapter under its own --served-model name)"
            )

    def preflight(self, folder: Path) -> None:
        if self.endpoints:
            self.endpoints.headers()  # the API key's variable is set

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
    chosen = as_precision(s.precision) if s.model_dir else None
    served_model = check_endpoints(s.endpoints) if s.endpoints else None  # before any write
    batches, provenance = _layout(s, prompts, chosen, served_model)
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
        if s.endpoints:
            stats = generate_from_endpoints(
                batches, raw_path, provenance, s.endpoints, served_model, s.sampling,
                progress_bar=context.progress_bar,
            )  # fmt: skip
        else:
            stats = generate_resumable(
                batches, raw_path, provenance, s.model_dir, s.adapter_dir, s.sampling,
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


def _layout(s: GenerateSettings, prompts: list[dict], chosen: Precision | None, served_model):
    """The batches this run answers and the provenance its rows carry, built once: the check
    of an earlier run's rows and the generation use the same. A server answers one prompt
    (all its samples) per request, so its batches are single prompts."""
    if s.predictions:
        return [[(p, 0)] for p in prompts], predictions_provenance(s.predictions)
    if s.endpoints:
        provenance = endpoint_provenance(served_model, s.sampling, s.samples)
        return batches_of(prompts, s.samples, s.samples), provenance
    return batches_of(prompts, s.samples, s.batch_size), generation_provenance(
        s.model_dir, s.adapter_dir, s.sampling, s.batch_size, chosen
    )


def _remove_unfinished(folder: Path) -> None:
    """Remove a folder this run created when it holds nothing worth resuming from (no
    generated rows); a stopped generation keeps its raw.jsonl so the rerun continues."""
    raw = folder / RAW
    if not raw.exists() or raw.stat().st_size == 0:
        shutil.rmtree(folder, ignore_errors=True)
