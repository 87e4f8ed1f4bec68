"""Which debias recipe makes the tuned rewriter beat the prompted base model? A measured sweep.

Each setting is a real debias demo run (prepare, sft, judge, `llamafactory-cli train`, rewrite
by the base and the tuned model, compare) on the shipped ParaDetox subset, or on `--data`;
StereoSet, CrowS-Pairs and the report are left out. Settings that change only the training
start from the first setting's folder: its data, judge and base-model rewrites are reused and
the training, the tuned rewrites and the comparison redone. One row per setting: training
seconds and last loss, unsafe % of the originals, the base and the tuned rewrites, similarity,
fluent %, J, and the one-sided paired p of "tuned beats base" on J and on unsafe %.

    python bench/sweep_debias.py --out bench/sweep_debias_results.json [--only NAME,...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

from synthpack.common.step import read_record, record_path
from synthpack.demo.pipeline import run_demo
from synthpack.demo.recipes import load_recipe
from synthpack.models.precision import cpu_description

BASE = load_recipe("debias")
FIRST = "steps60_lr5e-4"
# name -> changes to the shipped debias recipe (training only, so each reuses FIRST's folder)
SETTINGS: dict[str, dict] = {
    FIRST: {"train_steps": 60, "learning_rate": 5e-4},
    "steps30_lr5e-4": {"train_steps": 30, "learning_rate": 5e-4},
    "steps60_lr2e-4": {"train_steps": 60, "learning_rate": 2e-4},
    "steps60_lr1e-3": {"train_steps": 60, "learning_rate": 1e-3},
    "steps60_lr2e-3": {"train_steps": 60, "learning_rate": 2e-3},
    "steps60_lr3e-3": {"train_steps": 60, "learning_rate": 3e-3},
    "steps45_lr2e-3": {"train_steps": 45, "learning_rate": 2e-3},
    "steps120_lr5e-4": {"train_steps": 120, "learning_rate": 5e-4},
    "steps60_lr5e-4_batch4": {"train_steps": 60, "learning_rate": 5e-4, "batch_size": 4},
    # QLoRA side by side with LoRA at the same settings: 4-bit NF4 base weights (bitsandbytes)
    "steps60_lr1e-3_qlora": {"train_steps": 60, "learning_rate": 1e-3, "qlora": True},
}
REDONE = (("train", "train"), ("rewrites/tuned", "eval_debias"), ("compare", "debias_compare"))
STEPS = "prepare-compare"


def start_from_first(run_dir: Path, first_dir: Path) -> None:
    """Copy the first setting's run and forget what training changes."""
    shutil.copytree(first_dir, run_dir)
    (run_dir / "settings.json").unlink()
    for folder, step in REDONE:
        record_path(run_dir / folder, step).unlink(missing_ok=True)


def row(name: str, run_dir: Path, seconds: float) -> dict:
    """The figures of one finished setting."""
    train = read_record(run_dir / "train", "train")
    compare = json.loads((run_dir / "compare" / "compare.json").read_text())
    m = compare["metrics"]
    return {
        "name": name,
        "changes": SETTINGS[name],
        "wall_s": round(seconds, 1),
        "train_s": train["seconds"],
        "loss_last": train["report"]["loss_last"],
        "unsafe_originals": compare["unsafe_percent_originals"],
        **{
            f"{metric}_{side}": m[metric][side]
            for metric in m
            for side in ("baseline", "candidate")
        },  # fmt: skip
        "j_p_better": m["j"]["p_better"],
        "unsafe_p_better": m["unsafe_percent"]["p_better"],
        "verdict": compare["verdict"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/sweep_debias_results.json"))
    parser.add_argument("--runs", type=Path, default=Path("runs/sweep_debias"))
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--only", help="comma-separated setting names")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SETTINGS)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    results.update({"cpu": cpu_description(), "cores": len(__import__("os").sched_getaffinity(0)),
                    "base_recipe": dataclasses.asdict(BASE)})  # fmt: skip
    done = {r["name"] for r in results["rows"]}
    for name in names:
        if name in done:
            continue
        run_dir = args.runs / name
        if name != FIRST and not run_dir.exists():
            start_from_first(run_dir, args.runs / FIRST)
        started = time.perf_counter()
        recipe = dataclasses.replace(BASE, **SETTINGS[name])
        run_demo(run_dir, recipe, steps=STEPS, data_dir=args.data, echo=lambda *a, **k: None)
        results["rows"].append(row(name, run_dir, time.perf_counter() - started))
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        r = results["rows"][-1]
        print(f"{name}: train {r['train_s']:.0f} s, unsafe {r['unsafe_originals']:.1f} -> base "
              f"{r['unsafe_percent_baseline']:.1f} / tuned {r['unsafe_percent_candidate']:.1f}, "
              f"J {r['j_baseline']:.3f} / {r['j_candidate']:.3f} (p {r['j_p_better']:.3f}), "
              f"similarity {r['similarity_candidate']:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
