"""`synthpack demo`: the first paper's Algorithm 1 end to end on the embedded default, on a CPU.

prepare -> render -> sft -> train -> generate -> clean -> register -> eval_mlp -> stereoset
-> report. Every step writes into one run folder and leaves a `.STEP.done` stamp; a second
call reuses finished steps, so a stopped demo resumes where it stopped. The sizes below were
chosen so that the default finishes in about 10 minutes on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from synthpack.errors import SynthpackError
from synthpack.files import atomic_write_json, atomic_write_jsonl, read_jsonl
from synthpack.paths import pack_dir

STEPS = (
    "prepare",
    "render",
    "sft",
    "train",
    "generate",
    "clean",
    "register",
    "eval_mlp",
    "stereoset",
    "report",
)
CATEGORY = "hate"
VERSION = "v1"
TRAIN_CONFIG = "smollm2_lora_sft_cpu.yaml"
SYNTHETIC_DATASET = f"{CATEGORY}_{VERSION}_synthetic"


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


SIZES = {
    # Measured on 2 idle cores (README, 2026-11-23): 28-31 s per LoRA step at batch 4 and
    # cutoff 512; 16 answers of up to 256 tokens in one batch in about 2 minutes; 8-9 min in all.
    "default": DemoSize(
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
        real_train=2000,
        real_eval=1000,
        stereoset_examples=60,
    ),
    # Closer to the paper (30 entries, 5 shots) and to converged numbers; about an hour or more.
    "full": DemoSize(
        prompts_per_polarity=32,
        n_entries=30,
        shots=5,
        sft_per_class=300,
        train_steps=150,
        learning_rate=1e-4,
        cutoff_len=1536,
        max_new_tokens=768,
        temperature=0.8,
        top_p=0.95,
        real_train=7000,
        real_eval=1960,
        stereoset_examples=2106,
    ),
}


@dataclass(frozen=True)
class DemoData:
    """Where the demo's real data comes from: ToxiGen and StereoSet when present."""

    toxigen: Path | None
    stereoset: Path | None

    @property
    def description(self) -> dict:
        return {
            "seeds": "ToxiGen demonstrations" if self.toxigen else "synthpack's shipped demo seeds",
            "classifier_data": "ToxiGen annotated_train.csv"
            if self.toxigen
            else "synthpack's shipped demo seeds (48 texts: numbers are not meaningful)",
            "stereoset": str(self.stereoset) if self.stereoset else None,
        }


def default_data_dir() -> Path:
    """`$SYNTHPACK_DATA`, else `../shared/data` beside a checkout (absent in a fresh clone)."""
    env = os.environ.get("SYNTHPACK_DATA")
    return Path(env) if env else pack_dir("templates").parents[1] / "shared" / "data"


def find_data(data_dir: Path | None) -> DemoData:
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    toxigen = data_dir / "toxigen"
    stereoset = data_dir / "stereoset" / "dev.json"
    has_toxigen = (toxigen / "annotated" / "annotated_train.csv").is_file() and any(
        toxigen.glob("demonstrations/*/hate_*.txt")
    )
    return DemoData(toxigen if has_toxigen else None, stereoset if stereoset.is_file() else None)


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


class DemoRun:
    """One run folder: its settings, the steps' actions and their stamps."""

    def __init__(self, run_dir: Path, size: DemoSize, data: DemoData, echo=click.echo):
        self.dir = Path(run_dir)
        self.size = size
        self.data = data
        self.echo = echo
        self.model_dir: Path | None = None

    # --- paths shared by several steps -------------------------------------------------------
    @property
    def prompts_path(self) -> Path:
        return self.dir / "prompts" / "all.jsonl"

    @property
    def generations(self) -> Path:
        return self.dir / "generations"

    @property
    def adapter(self) -> Path:
        return self.dir / "train" / "adapter"

    def stamp(self, step: str) -> Path:
        return self.dir / f".{step}.done"

    def check_settings(self, force: bool) -> None:
        """Refuse to mix the outputs of two settings in one folder; `force` starts afresh."""
        wanted = {"size": asdict(self.size), "data": self.data.description}
        path = self.dir / "settings.json"
        if path.exists():
            have = json.loads(path.read_text())
            if have != wanted and force:
                for step in STEPS:
                    self.stamp(step).unlink(missing_ok=True)
            elif have != wanted and any(self.stamp(s).exists() for s in STEPS):
                raise SynthpackError(
                    f"{self.dir} holds a demo made with other settings ({path}); "
                    "use another --out, or --force to redo every step"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        atomic_write_json(path, wanted)

    def require(self, step: str) -> None:
        if not self.stamp(step).exists():
            raise SynthpackError(
                f"this step needs the outputs of '{step}', which has not run in {self.dir}; "
                f"run: synthpack demo --out {self.dir} --steps {step}"
            )

    def model(self) -> Path:
        if self.model_dir is None:
            from synthpack.model import prepare_default_model

            self.model_dir = prepare_default_model()
        return self.model_dir

    # --- steps -------------------------------------------------------------------------------
    def prepare(self) -> dict:
        """The model, and seeded train / eval samples of real labelled text."""
        return {"model_dir": str(self.model()), **self.write_real_data()}

    def _seed_files(self) -> dict:
        if not self.data.toxigen:
            return {}
        demos = self.data.toxigen / "demonstrations"
        return {
            "positive": sorted(demos.glob("*/hate_*.txt")),
            "negative": sorted(demos.glob("*/neutral_*.txt")),
        }

    def render(self) -> dict:
        from synthpack.render import run_render

        s = self.size
        rows = run_render(
            CATEGORY, [VERSION], ["pos", "neg"], self.dir / "prompts",
            n_prompts=s.prompts_per_polarity, n_entries=s.n_entries, shots=s.shots,
            seed=s.seed, dataset_dir=self.dir, **self._seed_files(),
        )  # fmt: skip
        records = [r for row in rows for r in read_jsonl(Path(row["folder"]) / "prompts.jsonl")]
        atomic_write_jsonl(self.prompts_path, records)
        return {"prompts": len(records), "stems": [row["stem"] for row in rows]}

    def sft(self) -> dict:
        from synthpack.sft import build_sft

        s, files = self.size, self._seed_files()
        manifest = build_sft(
            self.dir / "sft", category=CATEGORY, versions=(VERSION,),
            per_class=s.sft_per_class, shots=s.shots, n_entries=s.n_entries, val_ratio=0.0,
            seed=s.seed, positive={CATEGORY: files.get("positive", [])},
            negative={CATEGORY: files.get("negative", [])}, dataset_dir=self.dir,
        )  # fmt: skip
        return {"dataset": f"{manifest['stem']}_train", "records": manifest["records"]["train"]}

    def train(self) -> dict:
        from synthpack.train import run_llamafactory_train

        self.require("sft")
        dataset = json.loads(self.stamp("sft").read_text())["dataset"]
        s = self.size
        overrides = {
            "model_name_or_path": self.model(),
            "dataset": dataset,
            "dataset_dir": self.dir,
            "cutoff_len": s.cutoff_len,
            "max_steps": s.train_steps,
            "learning_rate": s.learning_rate,
            "output_dir": self.adapter,
            "seed": s.seed,
        }
        log = self.dir / "train" / "train.log"
        run_llamafactory_train(pack_dir("llamafactory_configs") / TRAIN_CONFIG, overrides, log)
        losses = [
            json.loads(line)["loss"]
            for line in (self.adapter / "trainer_log.jsonl").read_text().splitlines()
            if '"loss"' in line
        ]
        return {
            "config": TRAIN_CONFIG,
            "steps": s.train_steps,
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "log": str(log),
        }

    def generate(self) -> dict:
        from synthpack.generate import Sampling
        from synthpack.synthesize import generate_resumable

        self.require("render")
        self.require("train")
        s = self.size
        self.generations.mkdir(parents=True, exist_ok=True)
        self.generations.chmod(0o700)
        prompts = read_jsonl(self.prompts_path)
        stats = generate_resumable(
            prompts, self.generations / "raw.jsonl", self.model(), self.adapter, "hf",
            Sampling(s.max_new_tokens, s.temperature, s.top_p, s.seed),
            batch_size=len(prompts), samples=1,
        )  # fmt: skip
        atomic_write_json(self.generations / "generation_stats.json", stats)
        speed = stats["new_tokens"] / stats["seconds"] if stats["seconds"] else None
        return {"new_tokens": stats["new_tokens"], "tokens_per_s": speed and round(speed, 1)}

    def clean(self) -> dict:
        from synthpack.seeds import read_seed_file
        from synthpack.synthesize import clean_raw

        self.require("prepare")
        self.require("generate")
        stats_path = self.generations / "generation_stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else None
        # Synthetic entries must be new: not copies of the real training texts or the seeds.
        against = [r["text"] for r in read_jsonl(self.dir / "data" / "real_train.jsonl")]
        against += [r.text for p in self._seed_files().get("positive", []) for r in
                    read_seed_file(p, "pos")]  # fmt: skip
        report = clean_raw(self.generations, self.prompts_path, against=against, stats=stats)
        return {k: report[k] for k in ("entries_parsed", "accepted", "rejected")}

    def register(self) -> dict:
        from synthpack.register import register_file

        self.require("clean")
        status = register_file(self.dir, SYNTHETIC_DATASET, self.generations / "alpaca.json")
        return {"dataset": SYNTHETIC_DATASET, "dataset_dir": str(self.dir), "status": status}

    def write_real_data(self) -> dict:
        """Seeded train / eval samples of real labelled text for the classifier."""
        from synthpack.evaluate.data import read_labelled
        from synthpack.render import load_pools
        from synthpack.templates import load_category

        s = self.size
        if self.data.toxigen:
            real = read_labelled(self.data.toxigen / "annotated" / "annotated_train.csv")
            pairs = list(zip(real.texts, real.labels, strict=True))
            n_train, n_eval = s.real_train, s.real_eval
        else:
            # The category's shipped seeds, read as the render step reads them.
            pools = load_pools(load_category(CATEGORY)).texts
            pairs = [(t, 1) for t in pools["pos"]] + [(t, 0) for t in pools["neg"]]
            n_eval = len(pairs) // 3
            n_train = len(pairs) - n_eval
        random.Random(s.seed).shuffle(pairs)
        if n_train + n_eval > len(pairs):
            raise SynthpackError(f"{n_train} + {n_eval} real texts asked for, {len(pairs)} exist")
        rows = [{"text": t, "label": y} for t, y in pairs]
        atomic_write_jsonl(self.dir / "data" / "real_train.jsonl", rows[:n_train])
        atomic_write_jsonl(self.dir / "data" / "real_eval.jsonl", rows[n_train : n_train + n_eval])
        return {"real_train": n_train, "real_eval": n_eval}

    def eval_mlp(self) -> dict:
        from synthpack.evaluate.mlp_report import run_mlp_eval

        self.require("prepare")
        self.require("clean")
        report = run_mlp_eval(
            self.dir / "data" / "real_train.jsonl", self.dir / "data" / "real_eval.jsonl",
            self.dir / "eval_mlp", synthetic=[("synthetic", self.generations / "accepted.jsonl")],
            echo=lambda msg: None,
        )  # fmt: skip
        return {r["name"]: round(r["f1"], 4) for r in report["runs"]}

    def stereoset(self) -> dict:
        if not self.data.stereoset:
            return {"skipped": "StereoSet not found (pass --data DIR with stereoset/dev.json)"}
        self.require("train")
        figures = {}
        for name, adapter in (("base", None), ("tuned", self.adapter)):
            report = score_stereoset(
                self.data.stereoset, self.model(), adapter, self.size.stereoset_examples,
                self.dir / "stereoset" / name,
            )  # fmt: skip
            block = report["intrasentence"]
            figures[name] = {k: round(block[k], 2) for k in ("lms", "ss", "icat")}
        return figures

    def report(self) -> dict:
        from synthpack.report import build_report

        html = build_report(self.dir)
        return {"html": str(html)}


def score_stereoset(data: Path, model_dir: Path, adapter, limit: int, out: Path) -> dict:
    """StereoSet intrasentence LMS / SS / ICAT of one model on an evenly spaced subset."""
    from synthpack.evaluate import stereoset
    from synthpack.evaluate.lm_scoring import load_scoring_model

    intra = stereoset.load_stereoset(data)["intrasentence"]
    examples = {"intrasentence": stereoset.subset(intra, limit)}
    model, tokenizer = load_scoring_model(model_dir, adapter)
    started = time.perf_counter()
    scores = stereoset.model_scores(model, tokenizer, examples["intrasentence"])
    report = stereoset.evaluate(examples, scores)
    report["meta"] = {
        "data": str(data),
        "model": str(model_dir),
        "adapter": str(adapter) if adapter else None,
        "limit": limit,
        "start_token": "BOS",
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_json(out / "report.json", report)
    return report


def _run_step(run: DemoRun, name: str, action: Callable[[], dict]) -> dict:
    stamp = run.stamp(name)
    if stamp.exists():
        return {**json.loads(stamp.read_text()), "status": "reused"}
    run.echo(f"[demo] {name} ...", err=True)
    started = time.perf_counter()
    info = action()
    record = {"step": name, "seconds": round(time.perf_counter() - started, 1), **info}
    atomic_write_json(stamp, record)
    return {**record, "status": "ran"}


def run_demo(
    run_dir: Path,
    size: str | DemoSize = "default",
    steps: str | None = None,
    data_dir: Path | None = None,
    force: bool = False,
    echo=click.echo,
) -> list[dict]:
    """Run (or resume) the demo's steps; print and return one record per step."""
    if isinstance(size, str):
        if size not in SIZES:
            raise SynthpackError(f"Unknown demo size {size!r}. Available: {', '.join(SIZES)}")
        size = SIZES[size]
    run = DemoRun(run_dir, size, find_data(data_dir), echo)
    chosen = parse_steps(steps)
    run.check_settings(force)
    for step in chosen if force else ():
        run.stamp(step).unlink(missing_ok=True)
    for line in (f"{k}: {v}" for k, v in run.data.description.items()):
        echo(f"[demo] {line}", err=True)
    records = [_run_step(run, name, getattr(run, name)) for name in chosen]
    echo(f"{'step':<10} {'status':<7} {'seconds':>8}")
    for r in records:
        echo(f"{r['step']:<10} {r['status']:<7} {r['seconds']:>8}")
    total = sum(r["seconds"] for r in records if r["status"] == "ran")
    echo(f"{'total':<10} {'ran':<7} {total:>8.1f}")
    echo(f"outputs in {run.dir} (owner-only: generated text may be harmful)")
    if (run.dir / "report.html").exists():
        echo(f"report: {run.dir / 'report.html'}")
    return records
