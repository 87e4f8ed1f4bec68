"""Which demo recipe makes synthetic data help the classifier? A small measured sweep.

Each setting is a real demo run (render, SFT, `llamafactory-cli train`, generate, clean, label
check, eval mlp) on the shipped real data, or on `--data`; StereoSet and the report are left
out. Settings that differ only after training reuse the trained run (its folder is copied and
the later steps redone). One row per setting: loss, success rate and raw duplication of the
positives, the label check's agreement rate, and F1 / AUROC deltas of real + synthetic and
real + label-checked synthetic against real alone, with their one-sided paired p-values.

    python bench/sweep_recipe.py --out bench/sweep_results.json [--only NAME,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from synthpack.common.step import read_record
from synthpack.demo.pipeline import synthesis_steps
from synthpack.demo.recipes import Recipe, load_recipe
from synthpack.models.precision import as_precision
from synthpack.prepare.real_data import find_data

BASE = load_recipe("quick")  # the sweep started from the SmolLM2 recipe, the demo default then
# What the default recipe changes in quick, apart from its model: the first sweep's more_steps.
MORE_STEPS = {
    k: v
    for k, v in dataclasses.asdict(load_recipe("default")).items()
    if v != getattr(BASE, k) and k != "generator"
}
GEMMA = {"generator": load_recipe("default").generator, **MORE_STEPS}


def seeded(stem: str, seed: int) -> str:
    """A setting's name at a seed; seed 0 keeps the bare name (the first run of each)."""
    return stem if seed == 0 else f"{stem}_seed{seed}"


# name -> (parent whose trained model it reuses, or None; changes to the default size)
SETTINGS: dict[str, tuple[str | None, dict]] = {
    "default": (None, {}),
    "default_seed1": (None, {"seed": 1}),
    "default_seed2": (None, {"seed": 2}),
    "more_steps": (None, MORE_STEPS),
    "more_steps_minilm_check": ("more_steps", {"label_check_features": "minilm"}),
    "more_steps_relabel": ("more_steps", {"label_check_mode": "relabel"}),
    "more_steps_strict_check": ("more_steps", {"label_check_threshold": 0.5}),
    "more_steps_hot": ("more_steps", {"temperature": 1.1}),
    "more_prompts": ("more_steps", {"prompts_per_polarity": 32}),
    "v2": (None, {"version": "v2"}),
    "v3": (None, {"version": "v3"}),
    "real_seeds": (None, {"seeds": "real_train"}),
    "real_seeds_seed1": (None, {"seeds": "real_train", "seed": 1}),
    "real_seeds_seed2": (None, {"seeds": "real_train", "seed": 2}),
    "real_seeds_more_steps": (None, {"seeds": "real_train", **MORE_STEPS}),
    "gemma3_more_steps": (None, GEMMA),  # = `synthpack demo` (the default since the 4th sweep)
    **{seeded("gemma3_more_steps", n): (None, {**GEMMA, "seed": n}) for n in range(1, 5)},
    "gemma3_real_seeds_more_steps": (None, {**GEMMA, "seeds": "real_train"}),
    # Fifth sweep: a lax label check (reject only what the checker calls clearly off-label)
    **{seeded("gemma3_lax_check", n): (seeded("gemma3_more_steps", n), {
        "label_check_threshold": 0.2, "label_check_negative_threshold": 0.8}) for n in range(5)},
    # Issue 25: answers stopped once entry n+1 starts, on the same trained model
    **{seeded("gemma3_list_end", n): (seeded("gemma3_more_steps", n), {"stop_at_list_end": True})
       for n in range(5)},
}  # fmt: skip
AFTER_TRAIN = ("generate", "clean", "label_check", "register", "eval_mlp")
STEPS = "prepare-eval_mlp"


def size_of(name: str) -> Recipe:
    parent, changes = SETTINGS[name]
    base = size_of(parent) if parent else BASE
    return dataclasses.replace(base, **changes)


def seed_from_parent(run_dir: Path, parent_dir: Path, size: Recipe) -> None:
    """Start `run_dir` from the parent's trained run: copy it, redo what follows training."""
    shutil.copytree(parent_dir, run_dir)
    settings = json.loads((run_dir / "settings.json").read_text())
    settings["recipe"] = dataclasses.asdict(size)
    (run_dir / "settings.json").write_text(json.dumps(settings))
    redo = AFTER_TRAIN if size.prompts_per_polarity == json.loads(
        (parent_dir / "settings.json").read_text())["recipe"]["prompts_per_polarity"
    ] else ("render", *AFTER_TRAIN)  # fmt: skip
    plan = synthesis_steps(size, find_data(None), run_dir, as_precision(None))
    for run in (run for step in plan if step.name in redo for run in step.runs):
        run.forget()  # the demo redoes these steps
    if "render" in redo:
        shutil.rmtree(run_dir / "generations", ignore_errors=True)
    else:
        (run_dir / "generations" / "raw.jsonl").unlink(missing_ok=True)


def summarise(name: str, run_dir: Path, seconds: float) -> dict:
    train = read_record(run_dir / "train", "train")["report"]
    clean = json.loads((run_dir / "generations" / "report.json").read_text())
    check = json.loads((run_dir / "label_check" / "report.json").read_text())["label_check"]
    mlp = json.loads((run_dir / "eval_mlp" / "report.json").read_text())
    runs = {r["name"]: r for r in mlp["runs"]}
    row = {
        "name": name,
        "changes": SETTINGS[name][1],
        "seconds": round(seconds, 1),
        "loss_first": train.get("loss_first"),
        "loss_last": train.get("loss_last"),
        "accepted": clean["accepted"],
        "by_polarity": {
            p: {k: v.get(k) for k in ("success_rate_mean", "duplication_rate_pct", "accepted")}
            for p, v in clean.get("by_polarity", {}).items()
        },
        "agreement_rate": check.get("agreement_rate"),
        "checked_kept": check.get("kept"),
        "real": {"f1": runs["real"]["f1"], "auroc": runs["real"]["auroc"]},
        "verdict": mlp.get("verdict"),
    }
    for run in ("real+synthetic", "real+checked"):
        versus = runs.get(run, {}).get("vs_real")
        if versus:
            row[run] = {k: versus[k] for k in ("f1_delta", "p_better", "p_worse", "auroc_delta",
                                               "auroc_p_better", "auroc_p_worse")}  # fmt: skip
    return row


def main() -> None:
    from synthpack.demo.pipeline import run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthpack-sweep"))
    parser.add_argument("--data", type=Path, help="full data copies (default: shipped subset)")
    parser.add_argument("--only", default="", help="comma-separated setting names")
    parser.add_argument("--out", default="bench/sweep_results.json")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(SETTINGS)
    out = Path(args.out)
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    for name in names:
        run_dir = args.work / name
        parent = SETTINGS[name][0]
        if parent and not run_dir.exists():
            seed_from_parent(run_dir, args.work / parent, size_of(name))
        started = time.perf_counter()
        run_demo(run_dir, size_of(name), steps=STEPS, data_dir=args.data,
                 echo=lambda *a, **k: None)  # fmt: skip
        row = summarise(name, run_dir, time.perf_counter() - started)
        rows = [r for r in rows if r["name"] != name] + [row]
        out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
        print(json.dumps(row), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
