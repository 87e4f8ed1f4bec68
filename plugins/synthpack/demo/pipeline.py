"""`synthpack demo`: a recipe turned into a list of steps over the runners the commands use.

prepare -> render -> sft -> train -> generate -> clean -> label_check -> register -> eval_mlp
-> stereoset -> report. `synthesis_steps` builds every step's settings from the recipe up
front (a debias recipe's plan comes from `demo.debias.debias_steps`); `run_demo` runs them
through `common.step.run_step`, which leaves a record in each step's folder. A step whose
records are all there is reused, so a stopped demo resumes where it stopped. The demo holds
no step logic: each step is a runner of its own package.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from synthpack.clean.checker import LabelCheckSettings, run_label_check
from synthpack.clean.files import CleanedFiles
from synthpack.clean.label_check import LabelCheck
from synthpack.clean.run import CleanSettings, run_clean
from synthpack.common.errors import SynthpackError
from synthpack.common.files import atomic_write_json, private_dir
from synthpack.common.paths import pack_dir
from synthpack.common.progress import ProgressBar, terminal
from synthpack.common.step import (
    Context,
    check_steps,
    missing_inputs,
    run_step,
)
from synthpack.common.tables import format_table
from synthpack.demo.debias import DEBIAS_STEPS, debias_steps
from synthpack.demo.plan import TRAIN_CONFIG, DemoStep, Run
from synthpack.demo.recipes import CATEGORY, DebiasRecipe, Recipe, load_recipe, recipe_command
from synthpack.evaluate.run import MlpEvalSettings, run_mlp_eval
from synthpack.evaluate.stereoset import StereoSetSettings, run_stereoset
from synthpack.generate.run import GenerateSettings, run_generate
from synthpack.models.backends import Sampling
from synthpack.models.classifier.features import FEATURE_KINDS
from synthpack.models.embedded import model_dir_for
from synthpack.models.precision import Precision, as_precision
from synthpack.prepare.paradetox import (
    TRANSFER_EVAL,
    TransferEvalSettings,
    find_debias_data,
    run_transfer_eval,
)
from synthpack.prepare.real_data import (
    REAL_EVAL,
    REAL_TRAIN,
    SEED_CLASSES,
    PrepareSettings,
    RealData,
    find_data,
    real_seed_file,
    run_prepare,
)
from synthpack.prompts.categories import load_category
from synthpack.prompts.render import ALL_PROMPTS, RenderSettings, run_render
from synthpack.register import RegisterSettings, run_register
from synthpack.report.build import SUMMARY, ReportSettings, results_table, run_report
from synthpack.sft.synthesis import SftSettings, run_sft, sft_stem
from synthpack.train.launch import ADAPTER, TrainSettings, run_train

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
STEREOSET_MODELS = ("base", "tuned")
# The classifier's two evaluation domains: ToxiGen's held-out texts (the same source as the
# training data) and ParaDetox's toxic sentences against their paraphrases (another source and
# labelling scheme: does the gain transfer?).
EVAL_DOMAINS = ("toxigen", "paradetox")
SETTINGS = "settings.json"


def synthesis_steps(
    recipe: Recipe,
    data: RealData,
    root: Path,
    precision: Precision,
    model_dir: Path | None = None,
    command: str | None = None,
) -> list[DemoStep]:
    """Algorithm 1 of the first paper on the recipe's sizes, every step's settings built now."""
    r, root = recipe, Path(root)
    model = Path(model_dir) if model_dir else model_dir_for(r.generator)
    folder = {name: root / name for name in ("data", "prompts", "sft", "train", "label_check",
                                             "eval_mlp")}  # fmt: skip
    generations = root / "generations"
    if r.seeds == "real_train":
        seeds = {key: [real_seed_file(folder["data"], p)] for key, p in SEED_CLASSES.items()}
    else:
        seeds = data.seed_files()
    positive, negative = seeds.get("positive", []), seeds.get("negative", [])
    real_train, real_eval = folder["data"] / REAL_TRAIN, folder["data"] / REAL_EVAL
    prompts = folder["prompts"] / ALL_PROMPTS
    adapter = folder["train"] / ADAPTER
    checked = CleanedFiles.of(folder["label_check"])
    category = load_category(CATEGORY)
    sft = SftSettings(
        category=CATEGORY, versions=(r.version,), per_class=r.sft_per_class, shots=r.shots,
        n_entries=r.n_entries, val_ratio=0.0, seed=r.seed, positive={CATEGORY: positive},
        negative={CATEGORY: negative}, dataset_dir=root, condition=r.condition_axes,
    )  # fmt: skip
    steps = [
        ("prepare", run_prepare, PrepareSettings(
            data, r.real_train, r.real_eval, r.seed, model=model_dir or r.generator,
            fallback_positive=tuple(category.seed_paths("pos")),
            fallback_negative=tuple(category.seed_paths("neg"))), folder["data"]),
        ("render", run_render, RenderSettings(
            CATEGORY, (r.version,), ("pos", "neg"), positive=tuple(positive),
            negative=tuple(negative), shots=r.shots, n_entries=r.n_entries,
            n_prompts=r.prompts_per_polarity, seed=r.seed, dataset_dir=root,
            condition=r.condition_axes), folder["prompts"]),
        ("sft", run_sft, sft, folder["sft"]),
        ("train", run_train, TrainSettings(
            pack_dir("llamafactory_configs") / TRAIN_CONFIG, model,
            f"{sft_stem(CATEGORY, [r.version])}_train", root,
            {"cutoff_len": r.cutoff_len, "max_steps": r.train_steps,
             "learning_rate": r.learning_rate, "seed": r.seed}, precision,
            checkpointing=r.checkpointing), folder["train"]),
        ("generate", run_generate, GenerateSettings(
            prompts, model, adapter, sampling=Sampling(
                r.max_new_tokens, r.temperature, r.top_p, r.seed,
                stop_at_list_end=r.stop_at_list_end),
            batch_size=2 * r.prompts_per_polarity, precision=precision), generations),
        # Synthetic entries must be new: not copies of the real training texts or the seeds.
        ("clean", run_clean, CleanSettings(
            generations, prompts, against=(real_train, *positive), command=command),
         generations),
        # The checker learns from the real training texts only, never the evaluation set.
        ("label_check", run_label_check, LabelCheckSettings(
            generations, LabelCheck(r.label_check_threshold, r.label_check_mode,
                                    r.label_check_negative_threshold),
            train=real_train, exclude=(real_eval,), features=r.label_check_features),
         folder["label_check"]),
        ("register", run_register, RegisterSettings(r.synthetic_dataset, checked.alpaca), root),
    ]  # fmt: skip
    out = [
        DemoStep(name, (Run(runner, settings, where),)) for name, runner, settings, where in steps
    ]
    # The second domain's texts are data too: written beside the ToxiGen samples by prepare.
    transfer = Run(run_transfer_eval, TransferEvalSettings(find_debias_data(data.folder).pairs),
                   folder["data"])  # fmt: skip
    out[0] = replace(out[0], runs=(*out[0].runs, transfer))
    # One comparison per feature kind, each scored on both domains, in eval_mlp/<kind>.
    out.append(DemoStep("eval_mlp", tuple(
        Run(run_mlp_eval, MlpEvalSettings(
            real_train, real_eval, synthetic=(("synthetic", CleanedFiles.of(generations).accepted),
                                              ("checked", checked.accepted)),
            features=kind, eval_name=EVAL_DOMAINS[0],
            extra_eval=((EVAL_DOMAINS[1], folder["data"] / TRANSFER_EVAL),)),
            folder["eval_mlp"] / kind)
        for kind in FEATURE_KINDS)))  # fmt: skip
    if data.stereoset:
        runs = tuple(
            Run(run_stereoset, StereoSetSettings(data.stereoset, model, tuned,
                limit=r.stereoset_examples, precision=precision), root / "stereoset" / name)
            for name, tuned in zip(STEREOSET_MODELS, (None, adapter), strict=True)
        )  # fmt: skip
        out.append(DemoStep("stereoset", runs))
    else:
        why = "StereoSet not found (pass --data DIR with stereoset/dev.json)"
        out.append(DemoStep("stereoset", (), skipped=why))
    out.append(DemoStep("report", (Run(run_report, ReportSettings(), root),)))
    return out


def parse_steps(value: str | None, names: tuple[str, ...] = STEPS) -> list[str]:
    """`render,sft` or `train-eval_mlp` (a range) -> the steps (of `names`) in pipeline order."""
    if not value:
        return list(names)
    chosen: set[str] = set()
    for part in value.split(","):
        part = part.strip()
        first, _, last = (
            part.partition("-") if "-" in part and part not in names else (part, "", "")
        )
        for name in (first, last or first):
            if name not in names:
                raise SynthpackError(f"Unknown demo step {name!r}. Available: {', '.join(names)}")
        if names.index(last or first) < names.index(first):  # would choose no step at all
            raise SynthpackError(
                f"--steps {part}: {first} comes after {last} in the pipeline; write {last}-{first}"
            )
        chosen.update(names[names.index(first) : names.index(last or first) + 1])
    return [s for s in names if s in chosen]


def echo_to_terminal(message: str, err: bool = False) -> None:
    """The default `echo`: a line on stdout, or on stderr for progress notes."""
    print(message, file=sys.stderr if err else sys.stdout, flush=True)


def demo_command(root: Path, recipe: Recipe, data: RealData) -> str:
    """The `synthpack demo` line that makes this run folder again (for the dataset card)."""
    argv = ["synthpack", "demo", "--out", str(root), *recipe_command(recipe)]
    if data.folder:
        argv += ["--data", str(data.folder)]
    return shlex.join(argv)


def check_settings(root: Path, wanted: dict, force: bool) -> None:
    """Refuse to mix the outputs of two settings in one folder; `force` starts afresh."""
    path = root / SETTINGS
    if path.exists():
        have = json.loads(path.read_text())
        if have != wanted and not force:
            raise SynthpackError(
                f"{root} holds a demo made with other settings ({path}); "
                "use another --out, or --force to redo every step"
            )
    private_dir(root)
    atomic_write_json(path, wanted)


def _producers(step: DemoStep, steps: list[DemoStep]) -> list[str]:
    """The earlier steps that write the inputs `step` is missing."""
    missing = {path for run in step.runs for path in missing_inputs(run.settings).values()}
    names = []
    for earlier in steps[: steps.index(step)]:
        writes = {Path(p) for run in earlier.runs for p in run.settings.writes(run.folder).values()}
        if missing & writes:
            names.append(earlier.name)
    return names


def run_demo(
    run_dir: Path,
    recipe: str | Recipe | DebiasRecipe = "default",
    steps: str | None = None,
    data_dir: Path | None = None,
    force: bool = False,
    echo: Callable[..., None] = echo_to_terminal,
    progress_bar: ProgressBar = terminal,
    model_dir: Path | None = None,
    precision: Precision | str | None = None,
) -> list[dict]:
    """Run (or resume) the demo's steps; `echo` the step and results tables and return one
    record per step.

    `echo(message, err=False)` receives every line (progress notes with `err=True`); the long
    steps draw `progress_bar` (on a terminal only). `model_dir` replaces the embedded model;
    `precision` (auto / bf16 / fp32, or a `Precision`) is that of training, generation and
    scoring, resolved once here.
    """
    root = Path(run_dir)
    recipe = recipe if not isinstance(recipe, (str, Path)) else load_recipe(recipe)
    precision = as_precision(precision)
    if recipe.pipeline == "debias":
        data = find_debias_data(data_dir)
        plan = debias_steps(recipe, data, root, precision, model_dir)
        chosen = parse_steps(steps, DEBIAS_STEPS)
    else:
        data = find_data(data_dir)
        plan = synthesis_steps(
            recipe, data, root, precision, model_dir, demo_command(root, recipe, data)
        )
        chosen = parse_steps(steps)
    if force:  # a rerun on purpose may leave summary.json with fewer results than before
        plan = [replace(s, runs=tuple(_forced(run) for run in s.runs)) for s in plan]
    check_steps([(run.settings, run.folder) for s in plan if s.name in chosen for run in s.runs])
    wanted = {"recipe": asdict(recipe), "data": data.description, "precision": precision.name}
    settings_path = root / SETTINGS
    changed = settings_path.exists() and json.loads(settings_path.read_text()) != wanted
    for step in plan if force else ():  # redo the chosen steps; every step on new settings
        for run in step.runs if changed or step.name in chosen else ():
            run.forget()
    check_settings(root, wanted, force)
    for line in (f"{k}: {v}" for k, v in data.description.items()):
        echo(f"[demo] {line}", err=True)
    echo(f"[demo] {precision.describe()}", err=True)
    context = Context(progress_bar, echo=lambda message: echo(message, err=True))
    records = [_run(step, plan, root, context, echo) for step in plan if step.name in chosen]
    total = sum(r["seconds"] for r in records if r["status"] == "ran")
    peaks = [r["peak_rss_gb"] for r in records if r.get("peak_rss_gb") is not None]
    rows = [[r["step"], r["status"], f"{r['seconds']}", _gb(r.get("peak_rss_gb"))]
            for r in records]  # fmt: skip
    total_row = ["total", "ran", f"{total:.1f}", _gb(max(peaks) if peaks else None)]
    for line in format_table(
        ["step", "status", "seconds", "peak memory (GB)"], [*rows, total_row]
    ).splitlines():
        echo(line)
    if (root / SUMMARY).exists() and "report" in chosen:
        echo("")
        for line in results_table(json.loads((root / SUMMARY).read_text())).splitlines():
            echo(line)
    echo(f"outputs in {root} (owner-only: generated text may be harmful)")
    if (root / "report.html").exists():
        echo(f"report: {root / 'report.html'}")
    return records


def _gb(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _forced(run: Run) -> Run:
    """The report's run told that a smaller summary is expected (a --force rerun)."""
    if not isinstance(run.settings, ReportSettings):
        return run
    return replace(run, settings=ReportSettings(force=True))


def _done(name: str, plan: list[DemoStep]) -> bool:
    step = next(s for s in plan if s.name == name)
    return bool(step.runs) and all(run.done() for run in step.runs)


def _run(step: DemoStep, plan: list[DemoStep], root: Path, context: Context, echo) -> dict:
    """Run one demo step's runner calls, or reuse them when all have left their records."""
    if step.skipped:
        return {"step": step.name, "status": "skipped", "seconds": 0.0, "skipped": step.skipped}
    if all(run.done() for run in step.runs):
        return _step_result(step, "reused")
    producers = [name for name in _producers(step, plan) if not _done(name, plan)]
    if producers:
        quoted = ", ".join(f"'{name}'" for name in producers)
        raise SynthpackError(
            f"this step ('{step.name}') needs the outputs of {quoted}, which have not run in "
            f"{root}; run: synthpack demo --out {root} --steps {','.join(producers)}"
        )
    echo(f"[demo] {step.name} ...", err=True)
    for run in step.runs:  # a call that left its record (a stopped step's first ones) is kept
        if not run.done():
            run_step(run.runner, run.settings, run.folder, context)
    return _step_result(step, "ran")


def _step_result(step: DemoStep, status: str) -> dict:
    """A step's line of the demo's table: its seconds and peak memory, from its records."""
    records = [run.record for run in step.runs]
    peaks = [r["peak_rss_gb"] for r in records if r.get("peak_rss_gb") is not None]
    return {"step": step.name, "status": status,
            "seconds": round(sum(r["seconds"] for r in records), 1),
            "peak_rss_gb": max(peaks) if peaks else None}  # fmt: skip
