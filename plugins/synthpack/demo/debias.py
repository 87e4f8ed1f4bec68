"""The debias demo (the second paper's method, SPEC Pipeline B) as a list of steps.

prepare (split ParaDetox by source sentence) -> sft (Alpaca records with the SYS prompt) ->
judge (the toxicity classifier, trained on the training sources only) -> train (LoRA SFT with
`llamafactory-cli train`) -> rewrite (the held-out toxic sentences, by the prompted base model
and by the tuned rewriter) -> compare (paired: did tuning beat prompting?) -> stereoset and
crows_pairs (base against tuned) -> report. Every step is a runner of its own package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthpack.common.paths import pack_dir
from synthpack.demo.plan import TRAIN_CONFIG, DemoStep, Run
from synthpack.demo.recipes import DebiasRecipe
from synthpack.evaluate.crows_pairs import CrowsPairsSettings, run_crows_pairs
from synthpack.evaluate.debias.compare import DebiasCompareSettings, run_debias_compare
from synthpack.evaluate.debias.run import DebiasSettings, run_debias
from synthpack.evaluate.run import BASELINE, MlpEvalSettings, run_mlp_eval
from synthpack.evaluate.stereoset import StereoSetSettings, run_stereoset
from synthpack.models.classifier.mlp import MLPConfig
from synthpack.models.embedded import model_dir_for
from synthpack.models.precision import Precision
from synthpack.prepare.paradetox import (
    JUDGE_EVAL,
    JUDGE_TRAIN,
    SFT_PAIRS,
    TEST_TEXTS,
    DebiasData,
    PrepareDebiasSettings,
    run_prepare_debias,
)
from synthpack.report.build import ReportSettings, run_report
from synthpack.sft.debias import DebiasSftSettings, run_debias_sft
from synthpack.train.launch import ADAPTER, TrainSettings, run_train

DEBIAS_STEPS = ("prepare", "sft", "judge", "train", "rewrite", "compare", "stereoset",
                "crows_pairs", "report")  # fmt: skip
DEBIAS_DATASET = "paradetox_debias"  # registered as <name>_train / <name>_val
MODELS = ("base", "tuned")  # the prompted base model, and the same model with the adapter
# LLaMA-Factory's keys for QLoRA: 4-bit NF4 base weights with bitsandbytes (runs on a CPU too)
QLORA = {"quantization_bit": 4, "quantization_method": "bnb", "double_quantization": True}
REFERENCE = "reference"  # the crowd-written paraphrases, measured as a third "rewriter"
# 3 folds instead of eval mlp's 10: the same judge AUROC (0.977) in 10.6 s instead of 62.6 s
# (bench/RESULTS.md, the debias demo; 2-core Intel Xeon)
JUDGE_FOLDS = 3


@dataclass(frozen=True)
class JudgeSettings(MlpEvalSettings):
    """The toxicity judge: the `eval mlp` classifier trained on the training sources' toxic
    and neutral sides and scored on the held-out gold pairs (toxic vs its paraphrase), so
    the report says how far its "unsafe %" can be trusted."""

    step = "judge"


def judge_model(folder: Path) -> Path:
    """The judge's saved classifier inside the judge step's folder."""
    return Path(folder) / "models" / BASELINE


def debias_steps(
    recipe: DebiasRecipe,
    data: DebiasData,
    root: Path,
    precision: Precision,
    model_dir: Path | None = None,
) -> list[DemoStep]:
    """The debias pipeline on the recipe's sizes, every step's settings built now."""
    r, root = recipe, Path(root)
    model = Path(model_dir) if model_dir else model_dir_for(r.generator)
    folder = {name: root / name for name in ("data", "sft", "judge", "train", "compare")}
    adapter = folder["train"] / ADAPTER
    rewrites = {name: root / "rewrites" / name for name in MODELS}
    adapters = {"base": None, "tuned": adapter}
    judge, test = judge_model(folder["judge"]), folder["data"] / TEST_TEXTS
    steps = [
        DemoStep("prepare", (Run(run_prepare_debias, PrepareDebiasSettings(
            data.pairs, r.train_sources, r.test_sources, r.seed, model=model_dir or r.generator),
            folder["data"]),)),
        DemoStep("sft", (Run(run_debias_sft, DebiasSftSettings(
            folder["data"] / SFT_PAIRS, name=DEBIAS_DATASET, system=r.system,
            val_ratio=r.val_ratio, seed=r.seed, target_fields=("neutral",), dataset_dir=root),
            folder["sft"]),)),
        DemoStep("judge", (Run(run_mlp_eval, JudgeSettings(
            folder["data"] / JUDGE_TRAIN, folder["data"] / JUDGE_EVAL,
            config=MLPConfig(folds=JUDGE_FOLDS, seed=r.seed)), folder["judge"]),)),
        DemoStep("train", (Run(run_train, TrainSettings(
            pack_dir("llamafactory_configs") / TRAIN_CONFIG, model, f"{DEBIAS_DATASET}_train",
            root, {"cutoff_len": r.cutoff_len, "max_steps": r.train_steps,
                   "learning_rate": r.learning_rate, "seed": r.seed,
                   "per_device_train_batch_size": r.batch_size, **(QLORA if r.qlora else {})},
            precision), folder["train"]),)),
        DemoStep("rewrite", (Run(run_debias, DebiasSettings(
            judge, pairs=test, rewrite_field="reference", reference_lm=model, seed=r.seed),
            root / "rewrites" / REFERENCE),) + tuple(Run(run_debias, DebiasSettings(
            judge, texts=test, model_dir=model, adapter=adapters[name], system=r.system,
            max_new_tokens=r.max_new_tokens, reference_lm=model, precision=precision,
            batch_size=r.rewrite_batch_size, seed=r.seed), rewrites[name]) for name in MODELS)),
        DemoStep("compare", (Run(run_debias_compare, DebiasCompareSettings(
            rewrites["base"], rewrites["tuned"], seed=r.seed), folder["compare"]),)),
        DemoStep("stereoset", tuple(Run(run_stereoset, StereoSetSettings(
            data.stereoset, model, adapters[name], limit=r.stereoset_examples,
            precision=precision), root / "stereoset" / name) for name in MODELS)),
        DemoStep("crows_pairs", tuple(Run(run_crows_pairs, CrowsPairsSettings(
            data.crows_pairs, model, adapters[name], limit=r.crows_pairs_examples,
            precision=precision), root / "crows_pairs" / name) for name in MODELS)),
        DemoStep("report", (Run(run_report, ReportSettings(), root),)),
    ]  # fmt: skip
    return steps
