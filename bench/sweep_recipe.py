"""Which demo recipe makes synthetic data help the classifier? A small measured sweep.

Each setting is a real demo run (render, SFT, `llamafactory-cli train`, generate, clean, label
check, eval mlp) on the shipped real data, or on `--data`; StereoSet and the report are left
out. Settings that differ only after training reuse the trained run (its folder is copied and
the later steps redone). One row per run: loss, success rate and raw duplication of the
positives, the label check's agreement rate, and, per feature kind (TF-IDF, MiniLM) and
evaluation domain (ToxiGen, ParaDetox), F1 / AUROC deltas of real + synthetic and real +
label-checked synthetic against real alone, with their one-sided paired p-values.

Every setting runs at seeds 0-4 (`NAME`, `NAME_seed1`, ... `NAME_seed4`; a seeded run reuses the
trained run of its parent at the same seed), and `settings` in the output sums each setting up
over its seeds (`over_seeds`): mean delta, spread (min..max) and how many seeds were
significant (p < 0.05), per feature kind, domain, run and metric.

    python bench/sweep_recipe.py --out bench/sweep_results.json [--only STEM,...] [--seeds 0-4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from synthpack.common.files import atomic_write_json
from synthpack.common.step import find_records, read_record
from synthpack.demo.pipeline import synthesis_steps
from synthpack.demo.recipes import Recipe, load_recipe
from synthpack.models.precision import as_precision
from synthpack.prepare.real_data import find_data

BASE = load_recipe("quick")  # the sweep started from the SmolLM2 recipe, the demo default then
# The first sweep's more_steps: what the default recipe changed in quick, apart from its model,
# until the sixth sweep (written out, so that the settings below keep their meaning)
MORE_STEPS = {"prompts_per_polarity": 16, "n_entries": 8, "sft_per_class": 72,
              "train_steps": 36, "learning_rate": 1.0e-3}  # fmt: skip
GEMMA = {"generator": "gemma3-270m", **MORE_STEPS}


SEEDS = range(5)  # every setting is run, and summed up, over these seeds
SIGNIFICANCE = 0.05
FEATURES = ("tfidf", "minilm")
DOMAINS = ("toxigen", "paradetox")
COMPARED = ("real+synthetic", "real+checked")
_SEEDED = re.compile(r"^(?P<stem>.+)_seed(?P<seed>\d+)$")


def seeded(stem: str, seed: int) -> str:
    """A setting's name at a seed; seed 0 keeps the bare name (the first run of each)."""
    return stem if seed == 0 else f"{stem}_seed{seed}"


def stem_of(name: str) -> tuple[str, int]:
    """(setting, seed) of a run's name: `v2_seed3` -> ("v2", 3), `v2` -> ("v2", 0)."""
    found = _SEEDED.match(name)
    return (found["stem"], int(found["seed"])) if found else (name, 0)


# stem -> (parent whose trained model it reuses, or None; changes to the default size); each
# is run at every seed of SEEDS, the parent at the same seed (`SETTINGS`)
STEMS: dict[str, tuple[str | None, dict]] = {
    "default": (None, {}),
    "more_steps": (None, MORE_STEPS),
    "more_steps_minilm_check": ("more_steps", {"label_check_features": "minilm"}),
    "more_steps_relabel": ("more_steps", {"label_check_mode": "relabel"}),
    "more_steps_strict_check": ("more_steps", {"label_check_threshold": 0.5}),
    "more_steps_hot": ("more_steps", {"temperature": 1.1}),
    "more_prompts": ("more_steps", {"prompts_per_polarity": 32}),
    "v2": (None, {"version": "v2"}),
    "v3": (None, {"version": "v3"}),
    "real_seeds": (None, {"seeds": "real_train"}),
    "real_seeds_more_steps": (None, {"seeds": "real_train", **MORE_STEPS}),
    "gemma3_more_steps": (None, GEMMA),  # = `synthpack demo` (the default since the 4th sweep)
    "gemma3_real_seeds_more_steps": (None, {**GEMMA, "seeds": "real_train"}),
    # Fifth sweep: a lax label check (reject only what the checker calls clearly off-label)
    "gemma3_lax_check": ("gemma3_more_steps", {
        "label_check_threshold": 0.2, "label_check_negative_threshold": 0.8}),
    # Issue 25: answers stopped once entry n+1 starts, on the same trained model
    "gemma3_list_end": ("gemma3_more_steps", {"stop_at_list_end": True}),
    # Issue 27: prompts and SFT records conditioned on a target group (and a tone and form)
    "gemma3_group": (None, {**GEMMA, "condition": "group"}),
    "gemma3_group_tone_form": (None, {**GEMMA, "condition": "group,tone,form"}),
    # ... with 28 prompts per polarity on the same trained model: more text, and every group
    # asked for equally often (2 x 14)
    "gemma3_group_tone_form_28": ("gemma3_group_tone_form", {"prompts_per_polarity": 28}),
    # ... with 42 (each group three times): does more volume still pay?
    "gemma3_group_tone_form_42": ("gemma3_group_tone_form", {"prompts_per_polarity": 42}),
    # ... and the default with 28 prompts: the volume without the conditioning
    "gemma3_more_steps_28": ("gemma3_more_steps", {"prompts_per_polarity": 28}),
    # ... the same entries asked for and tokens allowed as _28, in fewer and longer answers
    # (16 prompts of 14 entries, 448 tokens each): entries per prompt against prompts
    "gemma3_group_tone_form_n14": ("gemma3_group_tone_form", {
        "n_entries": 14, "max_new_tokens": 448}),
    # Seventh sweep, toward the ToxiGen F1 target: the default (28 conditioned prompts) sampled
    # hotter on the same trained model (more varied entries) ...
    "gemma3_group_tone_form_28_hot": ("gemma3_group_tone_form", {
        "prompts_per_polarity": 28, "temperature": 1.0}),
    # ... trained on twice the distinct SFT records in the same 36 steps (each seen once; ran
    # at seed 0 only: it measures the draw of records, bench/RESULTS.md, seventh sweep) ...
    "gemma3_group_tone_form_28_sft144": (None, {
        **GEMMA, "condition": "group,tone,form", "prompts_per_polarity": 28,
        "sft_per_class": 144}),
    # ... and asking a length too (short / two sentences): more varied entries, same model
    "gemma3_group_tone_form_28_length": ("gemma3_group_tone_form", {
        "prompts_per_polarity": 28, "condition": "group,tone,form,length"}),
    # Eighth sweep: the default asking only implicit hostility (ToxiGen's is mostly implicit:
    # stereotypes and insinuation, rarely slurs), same trained model
    "gemma3_group_tone_form_28_implicit": ("gemma3_group_tone_form", {
        "prompts_per_polarity": 28, "condition": "group,tone=implicit,form,length"}),
    # Tenth sweep, on the training side: twice the distinct SFT records, each still seen once
    # (72 steps of 4), then the default's generation on that model
    "gemma3_group_tone_form_sft144_72": (None, {
        **GEMMA, "condition": "group,tone,form", "sft_per_class": 144, "train_steps": 72}),
    "gemma3_group_tone_form_sft144_72_28_length": ("gemma3_group_tone_form_sft144_72", {
        "prompts_per_polarity": 28, "condition": "group,tone,form,length"}),
}  # fmt: skip


def at_seed(stem: str, seed: int) -> tuple[str | None, dict]:
    """A stem's (parent run, changes) at `seed`: the parent at the same seed, the seed set."""
    parent, changes = STEMS[stem]
    return (parent and seeded(parent, seed)), {**changes, **({"seed": seed} if seed else {})}


# run name -> (parent run, changes): every stem at every seed
SETTINGS: dict[str, tuple[str | None, dict]] = {
    seeded(stem, n): at_seed(stem, n) for stem in STEMS for n in SEEDS
}
AFTER_TRAIN = ("generate", "clean", "label_check", "register", "eval_mlp")
STEPS = "prepare-eval_mlp"
TRAINED = "prepare-train"  # what a child run takes from its parent


def size_of(name: str) -> Recipe:
    parent, changes = SETTINGS[name]
    base = size_of(parent) if parent else BASE
    return dataclasses.replace(base, **changes)


def done(run_dir: Path, size: Recipe, steps: str) -> bool:
    """Whether every run of the plan's `steps` ("first-last") has its record."""
    plan = synthesis_steps(size, find_data(None), run_dir, as_precision(None))
    names = [step.name for step in plan]
    first, _, last = steps.partition("-")
    chosen = names[names.index(first) : names.index(last or first) + 1]
    return all(run.done() for step in plan if step.name in chosen for run in step.runs)


def render_settings(plan: list) -> object:
    return next(step.runs[0].settings for step in plan if step.name == "render")


def seed_from_parent(run_dir: Path, parent_dir: Path, size: Recipe) -> None:
    """Start `run_dir` from the parent's trained run: copy it, redo what follows training."""
    shutil.copytree(parent_dir, run_dir)
    settings = json.loads((run_dir / "settings.json").read_text())
    settings["recipe"] = dataclasses.asdict(size)
    (run_dir / "settings.json").write_text(json.dumps(settings))
    parent = Recipe(**json.loads((parent_dir / "settings.json").read_text())["recipe"])
    plan = synthesis_steps(size, find_data(None), run_dir, as_precision(None))
    # the prompts are rendered again when the render step's own settings differ
    before = synthesis_steps(parent, find_data(None), run_dir, as_precision(None))
    same_prompts = render_settings(before) == render_settings(plan)
    redo = AFTER_TRAIN if same_prompts else ("render", *AFTER_TRAIN)
    for run in (run for step in plan if step.name in redo for run in step.runs):
        run.forget()  # the demo redoes these steps
    if "render" in redo:
        shutil.rmtree(run_dir / "generations", ignore_errors=True)
    else:
        (run_dir / "generations" / "raw.jsonl").unlink(missing_ok=True)


def mlp_reports(run_dir: Path) -> dict[str, dict]:
    """The run's `eval mlp` report per feature kind (eval_mlp/KIND/report.json; a run from
    before issue 27 has one TF-IDF report in eval_mlp/)."""
    found = {kind: run_dir / "eval_mlp" / kind / "report.json" for kind in FEATURES}
    found = {kind: json.loads(p.read_text()) for kind, p in found.items() if p.exists()}
    legacy = run_dir / "eval_mlp" / "report.json"
    if not found and legacy.exists():
        found["tfidf"] = json.loads(legacy.read_text())
    return found


def classifier_row(report: dict) -> dict:
    """Per evaluation domain: real's F1 / AUROC, the compared runs' deltas and one-sided p."""
    from synthpack.evaluate.run import domains_of

    out = {}
    for domain, section in domains_of(report).items():
        runs = {r["name"]: r for r in section["runs"]}
        part = {"real": {"f1": runs["real"]["f1"], "auroc": runs["real"]["auroc"]},
                "verdict": section.get("verdict")}  # fmt: skip
        for run in COMPARED:
            versus = runs.get(run, {}).get("vs_real")
            if versus:
                part[run] = {k: versus[k] for k in ("f1_delta", "p_better", "p_worse",
                             "auroc_delta", "auroc_p_better", "auroc_p_worse")}  # fmt: skip
        out[domain] = part
    return out


def summarise(name: str, run_dir: Path, seconds: float) -> dict:
    train = read_record(run_dir / "train", "train")["report"]
    clean = json.loads((run_dir / "generations" / "report.json").read_text())
    check = json.loads((run_dir / "label_check" / "report.json").read_text())["label_check"]
    return {
        "name": name,
        "changes": SETTINGS[name][1],
        "seconds": round(seconds, 1),  # this call's wall time (a resumed run: seconds)
        # what the run's steps took when they ran (a run seeded from its parent: its training too)
        "step_seconds": round(sum(r.get("seconds") or 0 for _, r in find_records(run_dir)), 1),
        "loss_first": train.get("loss_first"),
        "loss_last": train.get("loss_last"),
        "accepted": clean["accepted"],
        "by_polarity": {
            p: {
                k: v.get(k)
                for k in (
                    "success_rate_mean",
                    "duplication_rate_pct",
                    "accepted",
                    "largest_group_pct",
                    "by_group",
                )
            }
            for p, v in clean.get("by_polarity", {}).items()
        },
        "agreement_rate": check.get("agreement_rate"),
        "checked_kept": check.get("kept"),
        "classifier": {kind: classifier_row(r) for kind, r in mlp_reports(run_dir).items()},
    }


def classifier_of(row: dict) -> dict:
    """A row's classifier part; a row from before issue 27 (TF-IDF on ToxiGen only, at the top
    of the row) read as that."""
    if "classifier" in row:
        return row["classifier"]
    legacy = {k: row[k] for k in ("real", *COMPARED) if k in row}
    return {"tfidf": {"toxigen": legacy}} if legacy else {}


def over_seeds(rows: list[dict], alpha: float = SIGNIFICANCE) -> list[dict]:
    """Each setting summed up over its seeds' rows: per feature kind, domain, compared run and
    metric (F1, AUROC) the mean delta, its spread (min, max), and how many seeds were
    significantly better (p_better < alpha) and significantly worse; real's mean F1 and AUROC."""
    by_stem: dict[str, dict[int, dict]] = {}
    for row in rows:
        stem, seed = stem_of(row["name"])
        by_stem.setdefault(stem, {})[seed] = row
    out = []
    for stem, seeds in by_stem.items():
        cells: dict[tuple, list[dict]] = {}
        for row in seeds.values():
            for kind, domains in classifier_of(row).items():
                for domain, part in domains.items():
                    for run in ("real", *COMPARED):
                        if run in part:
                            cells.setdefault((kind, domain, run), []).append(part[run])
        results = []
        for (kind, domain, run), found in cells.items():
            cell = {"features": kind, "domain": domain, "run": run, "seeds": len(found)}
            for metric, key in (("f1", "f1_delta"), ("auroc", "auroc_delta")):
                if run == "real":
                    cell[f"{metric}_mean"] = float(np.mean([f[metric] for f in found]))
                    continue
                prefix = "" if metric == "f1" else "auroc_"
                deltas = [f[key] for f in found]
                cell[metric] = {
                    "mean": float(np.mean(deltas)),
                    "min": float(min(deltas)),
                    "max": float(max(deltas)),
                    "significant": sum(f[f"{prefix}p_better"] < alpha for f in found),
                    "significantly_worse": sum(f[f"{prefix}p_worse"] < alpha for f in found),
                }
            results.append(cell)
        out.append({"setting": stem, "seeds": sorted(seeds), "results": results})
    return out


def seed_lines(summary: dict) -> list[str]:
    """One line per feature kind, domain and compared run of a setting's seed summary."""
    lines = []
    for cell in summary["results"]:
        if cell["run"] == "real":
            continue
        f1, rank, n = cell["f1"], cell["auroc"], cell["seeds"]
        lines.append(
            f"{summary['setting']} ({n} seeds) {cell['features']} {cell['domain']} "
            f"{cell['run']}: dF1 {f1['mean']:+.3f} [{f1['min']:+.3f}..{f1['max']:+.3f}], "
            f"{f1['significant']}/{n} significant; dAUROC {rank['mean']:+.3f} "
            f"[{rank['min']:+.3f}..{rank['max']:+.3f}], {rank['significant']}/{n} significant"
        )
    return lines


def paired_lines(
    rows: list[dict], stem: str, against: str, run: str = "real+synthetic"
) -> list[str]:
    """`stem` minus `against`, seed by seed, at the seeds both have: per feature kind and domain
    the mean difference of `run`'s F1 and AUROC deltas and at how many seeds `stem` was ahead
    (two settings' gains over the same real data are compared where the seed is the same)."""
    by_name = {row["name"]: classifier_of(row) for row in rows}
    seeds = [n for n in SEEDS if seeded(stem, n) in by_name and seeded(against, n) in by_name]
    if not seeds:
        return [f"{stem} against {against}: no seed run by both"]
    lines = []
    for kind, domains in by_name[seeded(stem, seeds[0])].items():
        for domain in domains:
            cells = []
            for metric in ("f1", "auroc"):
                diffs = [
                    by_name[seeded(stem, n)][kind][domain][run][f"{metric}_delta"]
                    - by_name[seeded(against, n)][kind][domain][run][f"{metric}_delta"]
                    for n in seeds
                ]
                ahead = sum(d > 0 for d in diffs)
                cells.append(f"{metric} {np.mean(diffs):+.3f} (ahead {ahead}/{len(seeds)})")
            lines.append(f"{stem} - {against} {kind} {domain} {run}: " + ", ".join(cells))
    return lines


def parse_seeds(value: str) -> list[int]:
    """`0-4` or `0,2,3` -> seeds."""
    seeds: list[int] = []
    for part in value.split(","):
        first, _, last = part.partition("-")
        seeds += range(int(first), int(last or first) + 1)
    return seeds


def main() -> None:
    from synthpack.demo.pipeline import run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/synthpack-sweep"))
    parser.add_argument("--data", type=Path, help="full data copies (default: shipped subset)")
    parser.add_argument("--only", default="", help="comma-separated settings (stems or runs)")
    parser.add_argument("--seeds", default="0-4", help="seeds of each stem: 0-4 or 0,2")
    parser.add_argument("--out", default="bench/sweep_results.json")
    parser.add_argument("--against", help="also print each setting minus this one, by seed")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    asked = [n for n in args.only.split(",") if n] or list(STEMS)
    # seed by seed, so that the settings compared are paired as early as possible
    names = [seeded(n, s) for s in seeds for n in asked if n in STEMS]
    names += [n for n in asked if n not in STEMS]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        sys.exit(f"unknown setting(s) {', '.join(unknown)}; stems: {', '.join(STEMS)}")
    out = Path(args.out)
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    for name in names:
        run_dir = args.work / name
        parent = SETTINGS[name][0]
        if parent and not run_dir.exists():
            if not done(args.work / parent, size_of(parent), TRAINED):
                # a parent not asked for is run only as far as its trained model
                run_demo(args.work / parent, size_of(parent), steps=TRAINED,
                         data_dir=args.data, echo=lambda *a, **k: None)  # fmt: skip
            seed_from_parent(run_dir, args.work / parent, size_of(name))
        before = next((r for r in rows if r["name"] == name), None)
        resumed = before and done(run_dir, size_of(name), STEPS)
        started = time.perf_counter()
        run_demo(run_dir, size_of(name), steps=STEPS, data_dir=args.data,
                 echo=lambda *a, **k: None)  # fmt: skip
        # a finished run is summed up again, but keeps the seconds it took when it ran
        seconds = before["seconds"] if resumed else time.perf_counter() - started
        row = summarise(name, run_dir, seconds)
        rows = [r for r in rows if r["name"] != name] + [row]
        atomic_write_json(out, {"rows": rows, "settings": over_seeds(rows)})
        print(json.dumps(row), file=sys.stderr, flush=True)
    stems = {stem_of(n)[0] for n in names}
    for summary in over_seeds(rows):
        if summary["setting"] in stems:
            print("\n".join(seed_lines(summary)), flush=True)
    for stem in sorted(stems - {args.against}) if args.against else ():
        print("\n".join(paired_lines(rows, stem, args.against)), flush=True)


if __name__ == "__main__":
    main()
