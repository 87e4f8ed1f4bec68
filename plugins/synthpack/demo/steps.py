"""`synthpack demo`: the first paper's Algorithm 1 end to end on the embedded default, on a CPU.

prepare -> render -> sft -> train -> generate -> clean -> label_check -> register -> eval_mlp
-> stereoset -> report. Every step writes into one run folder (`RunLayout`) and leaves a
`.STEP.done` stamp; a second call reuses finished steps, so a stopped demo resumes where it
stopped. The sizes (`layout.SIZES`) were chosen so that the default finishes in about 10
minutes on a 2-core CPU.
"""

from __future__ import annotations

import json
import random
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from synthpack.clean.label_check import format_label_check
from synthpack.common.errors import SynthpackError
from synthpack.common.files import (
    atomic_write_json,
    atomic_write_jsonl,
    atomic_write_text,
    private_dir,
    read_jsonl,
)
from synthpack.common.paths import pack_dir
from synthpack.common.precision import model_device, resolve_precision
from synthpack.common.progress import ProgressBar, terminal
from synthpack.common.tables import format_table
from synthpack.demo.layout import (
    CATEGORY,
    SIZES,
    STEPS,
    STEREOSET_MODELS,
    TRAIN_CONFIG,
    DemoData,
    DemoSize,
    RunLayout,
    demo_size,
    find_data,
    parse_steps,
)

SEED_CLASSES = {"positive": "pos", "negative": "neg"}  # seed_files() key -> polarity


def echo_to_terminal(message: str, err: bool = False) -> None:
    """The default `echo`: a line on stdout, or on stderr for progress notes."""
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


class DemoRun:
    """One run folder: its settings, the steps' actions and their stamps."""

    def __init__(
        self,
        run_dir: Path,
        size: DemoSize,
        data: DemoData,
        echo=echo_to_terminal,
        progress_bar: ProgressBar = terminal,
        model_dir: Path | None = None,
        precision: str | None = None,
    ):
        self.files = RunLayout(Path(run_dir))
        self.size = size
        self.data = data
        self.echo = echo
        self.progress_bar = progress_bar
        self.model_dir = model_dir
        self.precision = resolve_precision(precision, model_device())

    def check_settings(self, force: bool) -> None:
        """Refuse to mix the outputs of two settings in one folder; `force` starts afresh."""
        wanted = {
            "size": asdict(self.size),
            "data": self.data.description,
            "precision": self.precision.name,
        }
        path = self.files.settings
        if path.exists():
            have = json.loads(path.read_text())
            if have != wanted and force:
                for step in STEPS:
                    self.files.stamp(step).unlink(missing_ok=True)
            elif have != wanted and any(self.files.stamp(s).exists() for s in STEPS):
                raise SynthpackError(
                    f"{self.files.root} holds a demo made with other settings ({path}); "
                    "use another --out, or --force to redo every step"
                )
        private_dir(self.files.root)
        atomic_write_json(path, wanted)

    def command(self) -> str:
        """The `synthpack demo` line that makes this run folder again (for the dataset card)."""
        argv = ["synthpack", "demo", "--out", str(self.files.root)]
        named = next((name for name, size in SIZES.items() if size == self.size), None)
        if named == "full":
            argv.append("--full")
        elif named and named != "default":
            argv += ["--size", named]
        data = self.data.toxigen.parent if self.data.toxigen else None
        data = data or (self.data.stereoset.parents[1] if self.data.stereoset else None)
        if data:
            argv += ["--data", str(data)]
        return shlex.join(argv) + ("" if named else "  # sizes: see settings.json")

    def require(self, step: str) -> None:
        if not self.files.stamp(step).exists():
            raise SynthpackError(
                f"this step needs the outputs of '{step}', which has not run in {self.files.root}; "
                f"run: synthpack demo --out {self.files.root} --steps {step}"
            )

    def model(self) -> Path:
        if self.model_dir is None:
            from synthpack.model import prepare_model

            self.model_dir = prepare_model(self.size.generator)
        return self.model_dir

    def seed_files(self) -> dict[str, list[Path]]:
        """Seed files per class for render and SFT (see `DemoSize.seeds`)."""
        if self.size.seeds == "real_train":
            self.require("prepare")
            return {name: [self.files.real_seeds(p)] for name, p in SEED_CLASSES.items()}
        return self.data.seed_files()

    # --- steps -------------------------------------------------------------------------------
    def prepare(self) -> dict:
        """The model, and seeded train / eval samples of real labelled text."""
        return {"model_dir": str(self.model()), **self.write_real_data()}

    def render(self) -> dict:
        from synthpack.prompts.render import run_render

        s = self.size
        rows = run_render(
            CATEGORY, [s.version], ["pos", "neg"], self.files.prompts_dir,
            n_prompts=s.prompts_per_polarity, n_entries=s.n_entries, shots=s.shots,
            seed=s.seed, dataset_dir=self.files.dataset_dir, **self.seed_files(),
        )  # fmt: skip
        records = [r for row in rows for r in read_jsonl(Path(row["folder"]) / "prompts.jsonl")]
        atomic_write_jsonl(self.files.prompts, records)
        return {"prompts": len(records), "stems": [row["stem"] for row in rows]}

    def sft(self) -> dict:
        from synthpack.sft.synthesis import build_sft

        s, files = self.size, self.seed_files()
        manifest = build_sft(
            self.files.sft_dir, category=CATEGORY, versions=(s.version,),
            per_class=s.sft_per_class, shots=s.shots, n_entries=s.n_entries, val_ratio=0.0,
            seed=s.seed, positive={CATEGORY: files.get("positive", [])},
            negative={CATEGORY: files.get("negative", [])}, dataset_dir=self.files.dataset_dir,
        )  # fmt: skip
        return {"dataset": f"{manifest['stem']}_train", "records": manifest["records"]["train"]}

    def train(self) -> dict:
        from synthpack.model import llamafactory_template
        from synthpack.train.launch import precision_overrides, run_llamafactory_train

        self.require("sft")
        dataset = json.loads(self.files.stamp("sft").read_text())["dataset"]
        s = self.size
        overrides = {
            **precision_overrides(self.model(), self.precision),
            "dataset": dataset,
            "dataset_dir": self.files.dataset_dir,
            "cutoff_len": s.cutoff_len,
            "max_steps": s.train_steps,
            "learning_rate": s.learning_rate,
            "output_dir": self.files.adapter,
            "seed": s.seed,
        }
        template = llamafactory_template(self.model())
        if template:  # the YAML names SmolLM2's; another embedded model brings its own
            overrides["template"] = template
        log = self.files.train_log
        run_llamafactory_train(
            pack_dir("llamafactory_configs") / TRAIN_CONFIG, overrides, log,
            progress_bar=self.progress_bar,
        )  # fmt: skip
        losses = [
            json.loads(line)["loss"]
            for line in (self.files.adapter / "trainer_log.jsonl").read_text().splitlines()
            if '"loss"' in line
        ]
        return {
            "config": TRAIN_CONFIG,
            "precision": self.precision.name,
            "steps": s.train_steps,
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "log": str(log),
        }

    def generate(self) -> dict:
        from synthpack.generate.backends import Sampling
        from synthpack.generate.resumable import generate_resumable

        self.require("render")
        self.require("train")
        s = self.size
        generations = private_dir(self.files.generations)
        prompts = read_jsonl(self.files.prompts)
        stats = generate_resumable(
            prompts, generations / "raw.jsonl", self.model(), self.files.adapter, "hf",
            Sampling(s.max_new_tokens, s.temperature, s.top_p, s.seed),
            batch_size=len(prompts), samples=1, progress_bar=self.progress_bar,
            precision=self.precision.name,
        )  # fmt: skip
        atomic_write_json(self.files.generation_stats, stats)
        speed = stats["new_tokens"] / stats["seconds"] if stats["seconds"] else None
        return {"new_tokens": stats["new_tokens"], "tokens_per_s": speed and round(speed, 1)}

    def clean(self) -> dict:
        from synthpack.generate.run import clean_raw
        from synthpack.seeds import read_seeds

        self.require("prepare")
        self.require("generate")
        stats_path = self.files.generation_stats
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else None
        # Synthetic entries must be new: not copies of the real training texts or the seeds.
        against = [r["text"] for r in read_jsonl(self.files.real_train)]
        against += [r.text for r in read_seeds(positive=self.seed_files().get("positive", []))]
        report = clean_raw(
            self.files.generations, self.files.prompts, against, stats=stats,
            progress_bar=self.progress_bar, command=self.command(),
        )  # fmt: skip
        return {k: report[k] for k in ("entries_parsed", "accepted", "rejected")}

    def label_check(self) -> dict:
        """Score the cleaned entries with a checker trained on the real training texts only
        (never the evaluation set); keep the entries it agrees with."""
        from synthpack.clean.label_check import LabelCheck, checked_report
        from synthpack.dataset_card import derive_card
        from synthpack.evaluate.checker import load_checker, train_checker
        from synthpack.generate.run import alpaca_records

        self.require("prepare")
        self.require("clean")
        s = self.size
        folder = private_dir(self.files.label_check)
        trained = train_checker(
            self.files.real_train, self.files.checker, s.label_check_features,
            exclude=[self.files.real_eval],
        )  # fmt: skip
        checker = load_checker(
            self.files.checker,
            LabelCheck(
                s.label_check_threshold, s.label_check_mode, s.label_check_negative_threshold
            ),
        )
        rows = read_jsonl(self.files.generations / "accepted.jsonl")
        checked = checker.apply(rows)
        generations = read_jsonl(self.files.generations / "raw.jsonl")
        atomic_write_jsonl(self.files.checked_accepted, checked.kept)
        atomic_write_jsonl(self.files.checked_rejected, checked.rejected)
        atomic_write_json(self.files.checked_alpaca, alpaca_records(generations, checked.kept))
        check = {"read": len(rows), "kept": len(checked.kept), "checker_training": trained,
                 **checked.report}  # fmt: skip
        # The checked set's report and card read as `generate --label-check` would write them.
        report = checked_report(json.loads(self.files.generation_report.read_text()), check)
        atomic_write_json(self.files.label_check_report, report)
        derive_card(self.files.generations, folder, report)
        self.echo(format_label_check(checked.report), err=True)
        pos = checked.report["by_polarity"]["pos"]
        return {
            "read": len(rows),
            "kept": len(checked.kept),
            "rejected": checked.report["rejected"],
            "relabelled": checked.report["relabelled"],
            "agreement_rate": checked.report["agreement_rate"],
            "positives_kept": pos["agree"],
        }

    def register(self) -> dict:
        from synthpack.register import register_file

        self.require("label_check")
        dataset_dir = self.files.dataset_dir
        name = self.size.synthetic_dataset
        status = register_file(dataset_dir, name, self.files.checked_alpaca)
        return {"dataset": name, "dataset_dir": str(dataset_dir), "status": status}

    def write_real_data(self) -> dict:
        """Seeded train / eval samples of real labelled text for the classifier."""
        from synthpack.prompts.categories import load_category
        from synthpack.seeds import load_pools, read_labelled

        s = self.size
        eval_pairs = None
        if self.data.annotated:
            real = read_labelled(self.data.annotated)
            pairs = list(zip(real.texts, real.labels, strict=True))
            n_train, n_eval = s.real_train, s.real_eval
            if self.data.annotated_eval:  # a fixed held-out file (the shipped subset)
                held = read_labelled(self.data.annotated_eval)
                eval_pairs = list(zip(held.texts, held.labels, strict=True))
        else:
            # The category's shipped seeds, read as the render step reads them.
            pools = load_pools(load_category(CATEGORY)).texts
            pairs = [(t, 1) for t in pools["pos"]] + [(t, 0) for t in pools["neg"]]
            n_eval = len(pairs) // 3
            n_train = len(pairs) - n_eval
        random.Random(s.seed).shuffle(pairs)
        if eval_pairs is None:  # one pool: the eval sample follows the training sample
            pairs, eval_pairs = pairs[:n_train], pairs[n_train:]
        if n_train > len(pairs) or n_eval > len(eval_pairs):
            raise SynthpackError(
                f"{n_train} training + {n_eval} evaluation texts asked for, "
                f"{len(pairs)} + {len(eval_pairs)} exist "
                f"({self.data.description['classifier_data']})"
                + ("; pass --data DIR with full copies" if self.data.shipped else "")
            )
        atomic_write_jsonl(
            self.files.real_train, [{"text": t, "label": y} for t, y in pairs[:n_train]]
        )
        atomic_write_jsonl(
            self.files.real_eval, [{"text": t, "label": y} for t, y in eval_pairs[:n_eval]]
        )
        for polarity, label in (("pos", 1), ("neg", 0)):  # the same texts as seed files
            lines = [" ".join(t.split()) for t, y in pairs[:n_train] if y == label]
            atomic_write_text(self.files.real_seeds(polarity), "\n".join(lines) + "\n")
        return {"real_train": n_train, "real_eval": n_eval}

    def eval_mlp(self) -> dict:
        from synthpack.evaluate.run import run_mlp_eval

        self.require("prepare")
        self.require("label_check")
        synthetic = [
            ("synthetic", self.files.generations / "accepted.jsonl"),
            ("checked", self.files.checked_accepted),
        ]
        report = run_mlp_eval(
            self.files.real_train, self.files.real_eval, self.files.eval_mlp,
            synthetic=synthetic, echo=lambda msg: None,
        )  # fmt: skip
        self.echo(report["verdict"])
        return {
            **{r["name"]: {"f1": round(r["f1"], 4), "auroc": round(r["auroc"], 4)}
               for r in report["runs"]},
            "verdict": report["verdict"],
        }  # fmt: skip

    def stereoset(self) -> dict:
        """StereoSet intrasentence on an evenly spaced subset, base model against the tuned one."""
        from synthpack.evaluate.stereoset import run_stereoset

        if not self.data.stereoset:
            return {"skipped": "StereoSet not found (pass --data DIR with stereoset/dev.json)"}
        self.require("train")
        figures = {}
        for name, adapter in zip(STEREOSET_MODELS, (None, self.files.adapter), strict=True):
            report = run_stereoset(
                self.data.stereoset, self.files.stereoset(name), self.model(), adapter,
                limit=self.size.stereoset_examples, progress_bar=self.progress_bar,
                precision=self.precision.name,
            )  # fmt: skip
            block = report["intrasentence"]
            figures[name] = {k: round(block[k], 2) for k in ("lms", "ss", "icat")}
        return figures

    def report(self) -> dict:
        from synthpack.demo.report import build_report

        html = build_report(self.files.root)
        return {"html": str(html)}


def _run_step(run: DemoRun, name: str, action: Callable[[], dict]) -> dict:
    stamp = run.files.stamp(name)
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
    echo: Callable[..., None] = echo_to_terminal,
    progress_bar: ProgressBar = terminal,
    model_dir: Path | None = None,
    precision: str | None = None,
) -> list[dict]:
    """Run (or resume) the demo's steps; `echo` the step and results tables and return one
    record per step.

    `echo(message, err=False)` receives every line (progress notes with `err=True`); the long
    steps draw `progress_bar` (on a terminal only). `model_dir` replaces the embedded model;
    `precision` (auto / bf16 / fp32) is that of training, generation and scoring.
    """
    run = DemoRun(
        run_dir, demo_size(size), find_data(data_dir), echo, progress_bar, model_dir, precision
    )
    chosen = parse_steps(steps)
    run.check_settings(force)
    for step in chosen if force else ():
        run.files.stamp(step).unlink(missing_ok=True)
    for line in (f"{k}: {v}" for k, v in run.data.description.items()):
        echo(f"[demo] {line}", err=True)
    echo(f"[demo] {run.precision.describe()}", err=True)
    records = [_run_step(run, name, getattr(run, name)) for name in chosen]
    total = sum(r["seconds"] for r in records if r["status"] == "ran")
    rows = [[r["step"], r["status"], f"{r['seconds']}"] for r in records]
    for line in format_table(
        ["step", "status", "seconds"], [*rows, ["total", "ran", f"{total:.1f}"]]
    ).splitlines():
        echo(line)
    if run.files.summary.exists() and "report" in chosen:
        from synthpack.demo.report import results_table

        echo("")
        for line in results_table(json.loads(run.files.summary.read_text())).splitlines():
            echo(line)
    echo(f"outputs in {run.files.root} (owner-only: generated text may be harmful)")
    if run.files.report_html.exists():
        echo(f"report: {run.files.report_html}")
    return records
