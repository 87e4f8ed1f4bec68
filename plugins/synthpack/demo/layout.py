"""The demo's steps, sizes and data, and the one definition of a run folder's files.

Both the steps (which write the files) and the report (which reads them back) take every path
from `RunLayout`, so the two cannot disagree about where something lives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from synthpack.common.errors import SynthpackError
from synthpack.common.paths import pack_dir
from synthpack.common.problems import unknown_name
from synthpack.model import DEFAULT_MODEL, MODELS

STEPS = (
    "prepare",
    "render",
    "sft",
    "train",
    "generate",
    "clean",
    "label_check",
    "register",
    "eval_mlp",
    "stereoset",
    "report",
)
CATEGORY = "hate"
TRAIN_CONFIG = "smollm2_lora_sft_cpu.yaml"
SEED_SOURCES = ("demonstrations", "real_train")
STEREOSET_MODELS = ("base", "tuned")


@dataclass(frozen=True)
class DemoSize:
    """How much work each step does; `default` fits about 10 minutes on 2 CPU cores."""

    prompts_per_polarity: int
    n_entries: int  # entries each prompt asks for
    shots: int  # few-shot examples in each prompt
    sft_per_class: int  # SFT records per polarity
    train_steps: int
    learning_rate: float
    cutoff_len: int
    max_new_tokens: int
    temperature: float
    top_p: float
    real_train: int  # real labelled texts for the classifier (ToxiGen annotated)
    real_eval: int
    stereoset_examples: int  # intrasentence examples, evenly spaced over the dev set
    seed: int = 0
    # The label check (issue 16): P(harmful) cut of the checker trained on real_train only;
    # None = the checker's own decision threshold (F1-best on its validation split).
    label_check_threshold: float | None = None
    label_check_negative_threshold: float | None = None  # None: 0.5
    label_check_mode: str = "reject"
    # tfidf: the same features as the classifier it judges for; minilm: a second opinion
    label_check_features: str = "tfidf"
    version: str = "v1"  # the prompt template version (V1-V3, first paper's Table 2)
    # Few-shot examples and SFT answers: ToxiGen's demonstrations, or the classifier's own
    # real training texts (the paper's D_train; the synthetic entries are then checked against
    # them as echoes, like against any seed)
    seeds: str = "demonstrations"
    # The embedded model that is tuned and generates (`synthpack.model.MODELS`)
    generator: str = DEFAULT_MODEL

    def __post_init__(self):
        if self.seeds not in SEED_SOURCES:
            raise unknown_name("seed source", self.seeds, SEED_SOURCES)
        if self.generator not in MODELS:
            raise unknown_name("generator", self.generator, list(MODELS))

    @property
    def synthetic_dataset(self) -> str:
        """The name the label-checked set is registered under."""
        return f"{CATEGORY}_{self.version}_synthetic"


# The small recipe on SmolLM2 (`--size quick`). Measured on 2 cores, bf16 (README, "The demo"):
# 12 LoRA steps at batch 4 and cutoff 512 in 87 s, 16 answers of up to 256 tokens in one batch
# in 25 s; 2-3 minutes in all. Its data does not raise the classifier's AUROC
# (bench/RESULTS.md, first and fourth sweeps).
QUICK = DemoSize(
    prompts_per_polarity=8,
    n_entries=10,
    shots=3,
    sft_per_class=32,
    train_steps=12,
    learning_rate=2e-4,
    cutoff_len=512,
    max_new_tokens=256,
    temperature=0.8,
    top_p=0.95,
    real_train=600,  # the scarce-data setting; the shipped subset has 600 + 1,000
    real_eval=1000,
    stereoset_examples=60,
)
# The recipe that fixed the form of the answers (first sweep) and, with Gemma 3 270M, raised
# AUROC and F1 at five seeds of five (third and fourth sweeps, bench/RESULTS.md); 8-9 minutes.
MORE_STEPS = {"train_steps": 36, "learning_rate": 1e-3, "sft_per_class": 72, "n_entries": 8,
              "prompts_per_polarity": 16}  # fmt: skip
DEFAULT = replace(QUICK, generator="gemma3-270m", **MORE_STEPS)
SIZES = {
    "default": DEFAULT,
    "quick": QUICK,
    # The default recipe trained four times longer and generating four times more, on the
    # same real data: 33 minutes on 2 cores (bench/RESULTS.md, "The default demo and the
    # --full run, timed").
    "full": replace(
        DEFAULT,
        train_steps=144,
        sft_per_class=288,
        prompts_per_polarity=64,
        stereoset_examples=300,
    ),
}


def demo_size(size: str | DemoSize) -> DemoSize:
    if isinstance(size, DemoSize):
        return size
    if size not in SIZES:
        raise SynthpackError(f"Unknown demo size {size!r}. Available: {', '.join(SIZES)}")
    return SIZES[size]


@dataclass(frozen=True)
class DemoData:
    """Where the demo's real data comes from: ToxiGen and StereoSet, shipped or full copies.

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

    def seed_files(self) -> dict[str, list[Path]]:
        """ToxiGen's demonstration files per class; empty: the category's shipped seeds."""
        if not self.toxigen:
            return {}
        demos = self.toxigen / "demonstrations"
        return {
            "positive": sorted(demos.glob("*/hate_*.txt")),
            "negative": sorted(demos.glob("*/neutral_*.txt")),
        }


SHIPPED_DATA = "demo"  # under dataset_info/: the real subset a fresh clone runs on


def shipped_data() -> DemoData:
    """The seeded ToxiGen and StereoSet subset in dataset_info/demo (see its SOURCE.md)."""
    root = pack_dir("dataset_info") / SHIPPED_DATA
    annotated = root / "toxigen" / "annotated"
    return DemoData(
        toxigen=root / "toxigen",
        stereoset=root / "stereoset" / "dev_intrasentence_300.json",
        annotated=annotated / "train.csv",
        annotated_eval=annotated / "eval.csv",
        shipped=True,
    )


def default_data_dir() -> Path | None:
    """`$SYNTHPACK_DATA` when set; None means the shipped subset."""
    env = os.environ.get("SYNTHPACK_DATA")
    return Path(env) if env else None


def find_data(data_dir: Path | None) -> DemoData:
    """Full copies in `data_dir` (or `$SYNTHPACK_DATA`), else the shipped subset.

    A folder without ToxiGen falls back to the category's 48 shipped seeds for the
    synthesis and the classifier (its report says the numbers mean nothing).
    """
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if data_dir is None:
        return shipped_data()
    toxigen = data_dir / "toxigen"
    stereoset = data_dir / "stereoset" / "dev.json"
    annotated = toxigen / "annotated" / "annotated_train.csv"
    has_toxigen = annotated.is_file() and any(toxigen.glob("demonstrations/*/hate_*.txt"))
    return DemoData(
        toxigen if has_toxigen else None,
        stereoset if stereoset.is_file() else None,
        annotated if has_toxigen else None,
    )


def parse_steps(value: str | None) -> list[str]:
    """`render,sft` or `train-eval_mlp` (a range) -> the steps in pipeline order."""
    if not value:
        return list(STEPS)
    chosen: set[str] = set()
    for part in value.split(","):
        part = part.strip()
        first, _, last = (
            part.partition("-") if "-" in part and part not in STEPS else (part, "", "")
        )
        for name in (first, last or first):
            if name not in STEPS:
                raise SynthpackError(f"Unknown demo step {name!r}. Available: {', '.join(STEPS)}")
        chosen.update(STEPS[STEPS.index(first) : STEPS.index(last or first) + 1])
    return [s for s in STEPS if s in chosen]


@dataclass(frozen=True)
class RunLayout:
    """Every file of a demo run folder, by the step that writes it."""

    root: Path

    def stamp(self, step: str) -> Path:
        """`.STEP.done`: the step finished; it holds the step's record (seconds, results)."""
        return self.root / f".{step}.done"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def dataset_dir(self) -> Path:  # the run folder is a LLaMA-Factory dataset_dir of its own
        return self.root

    # prepare
    @property
    def real_train(self) -> Path:
        return self.root / "data" / "real_train.jsonl"

    @property
    def real_eval(self) -> Path:
        return self.root / "data" / "real_eval.jsonl"

    def real_seeds(self, polarity: str) -> Path:
        """The real training texts of one class, one per line (seeds="real_train")."""
        return self.root / "data" / f"real_train_{polarity}.txt"

    # render, sft, train
    @property
    def prompts_dir(self) -> Path:
        return self.root / "prompts"

    @property
    def prompts(self) -> Path:
        return self.prompts_dir / "all.jsonl"

    @property
    def sft_dir(self) -> Path:
        return self.root / "sft"

    @property
    def adapter(self) -> Path:
        return self.root / "train" / "adapter"

    @property
    def train_log(self) -> Path:
        return self.root / "train" / "train.log"

    # generate, clean
    @property
    def generations(self) -> Path:
        return self.root / "generations"

    @property
    def generation_stats(self) -> Path:
        return self.generations / "generation_stats.json"

    @property
    def generation_report(self) -> Path:
        return self.generations / "report.json"

    # label_check: the checker (trained on real_train only) and the entries it kept
    @property
    def label_check(self) -> Path:
        return self.root / "label_check"

    @property
    def checker(self) -> Path:
        return self.label_check / "checker"

    @property
    def checked_accepted(self) -> Path:
        return self.label_check / "accepted.jsonl"

    @property
    def checked_rejected(self) -> Path:
        return self.label_check / "rejected.jsonl"

    @property
    def checked_alpaca(self) -> Path:
        return self.label_check / "alpaca.json"

    @property
    def label_check_report(self) -> Path:
        return self.label_check / "report.json"

    # eval_mlp, stereoset
    @property
    def eval_mlp(self) -> Path:
        return self.root / "eval_mlp"

    @property
    def eval_mlp_report(self) -> Path:
        return self.eval_mlp / "report.json"

    def stereoset(self, model: str) -> Path:
        return self.root / "stereoset" / model

    # report
    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def plots(self) -> Path:
        return self.root / "report"
