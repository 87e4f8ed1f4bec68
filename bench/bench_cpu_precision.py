"""fp32 against the fast CPU path (bf16 where the CPU has it), in one run, on the demo's work.

Three parts, each the real code path:
- LoRA SFT of SmolLM2 through the real `llamafactory-cli train` on the demo's SFT records
  (batch 4, cutoff 512): today's fp32 configuration, then one change at a time up to the
  shipped one. Seconds per step (median after the first), peak memory of the training
  process, and the loss curves of fp32 and the shipped path over the same steps and seed.
- Generation with the tuned adapter on the demo's prompts, at batch 1 and at the default
  batch: tokens/s, ms per decoding step and the share of entries the cleaning step accepts,
  for today's fp32 path, the same in bf16, and the shipped path.
- StereoSet intrasentence on the whole dev set (when ../shared/data has it): scoring seconds
  and LMS / SS / ICAT per precision.

    python bench/bench_cpu_precision.py --out bench/cpu_precision_results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEREOSET = REPO.parent / "shared" / "data" / "stereoset" / "dev.json"
CONFIG = "smollm2_lora_sft_cpu.yaml"

# (name, what changes, precision, LLaMA-Factory overrides); each row adds one change.
TRAIN_VARIANTS = [
    ("fp32_today", "fp32, gradient checkpointing, LoRA dropout 0.1 (the config before issue 14)",
     "fp32", {"disable_gradient_checkpointing": False, "lora_dropout": 0.1}),
    ("fp32_no_checkpointing", "fp32 without gradient checkpointing",
     "fp32", {"lora_dropout": 0.1}),
    ("bf16_autocast", "bf16 autocast over fp32 weights (LLaMA-Factory's bf16: true alone)",
     "bf16_autocast", {"lora_dropout": 0.1}),
    ("bf16_weights", "weights stored in bf16 as well (training_copy)",
     "bf16", {"lora_dropout": 0.1}),
    ("shipped", "no LoRA dropout: the shipped CPU config with the auto precision",
     "bf16", {}),
]  # fmt: skip


def _seconds(stamp: str) -> int:
    return sum(int(x) * m for x, m in zip(stamp.split(":"), (3600, 60, 1), strict=True))


def train_once(variant: str, run_dir: Path, steps: int, out: Path) -> dict:
    """One real training run (called in a child process, so its peak memory is its own)."""
    from synthpack.common.paths import pack_dir
    from synthpack.common.step import read_record
    from synthpack.models.embedded import prepare_model
    from synthpack.models.precision import Precision
    from synthpack.train.launch import precision_overrides, run_llamafactory_train

    name, _, precision, extra = next(v for v in TRAIN_VARIANTS if v[0] == variant)
    model = prepare_model()
    if precision == "bf16_autocast":
        keys = {**precision_overrides(model, Precision("fp32", "bench")), "bf16": True,
                "use_cpu": True}  # fmt: skip
    else:
        keys = precision_overrides(model, Precision(precision, "bench"))
    dataset = f"{read_record(run_dir / 'sft', 'sft')['report']['stem']}_train"
    started = time.perf_counter()
    run_llamafactory_train(
        pack_dir("llamafactory_configs") / CONFIG,
        {**keys, "dataset": dataset, "dataset_dir": run_dir, "cutoff_len": 512,
         "max_steps": steps, "learning_rate": 2e-4, "output_dir": out, "seed": 0, **extra},
        log_path=out.parent / f"{name}.log",
    )  # fmt: skip
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "loss" in r]
    elapsed = [_seconds(r["elapsed_time"]) for r in logged]
    per_step = [b - a for a, b in zip(elapsed, elapsed[1:], strict=False)]
    return {
        "name": name,
        "steps": steps,
        "seconds_per_step": statistics.median(per_step) if per_step else None,
        "train_seconds": elapsed[-1],
        "wall_seconds": round(wall, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 2),
        "losses": [round(r["loss"], 4) for r in logged],
    }


def measure_training(run_dir: Path, work: Path, steps: int, short_steps: int) -> list[dict]:
    results = []
    for name, change, _, _ in TRAIN_VARIANTS:
        n = steps if name in ("fp32_today", "shipped") else short_steps
        out = work / "train" / name
        child = subprocess.run(
            [sys.executable, __file__, "--train-one", name, "--run-dir", str(run_dir),
             "--steps", str(n), "--adapter", str(out)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        row = json.loads(child.stdout.strip().splitlines()[-1])
        row["change"] = change
        results.append(row)
        print(f"train {name}: {row['seconds_per_step']} s/step", file=sys.stderr, flush=True)
    base = results[0]["seconds_per_step"]
    for row in results:
        row["speedup_vs_fp32_today"] = round(base / row["seconds_per_step"], 2)
    return results


# Generation paths, each the whole configuration: "today" is the code before issue 14's
# generation work (adapter kept as a PeftModel, growing KV cache, transformers' own sampling).
GENERATION_PATHS = [
    # (name, precision, merge the adapter, Sampling.decoding, compile the decoding step)
    ("fp32_today", "fp32", False, "transformers", False),
    ("bf16_today", "bf16", False, "transformers", False),
    ("shipped", "bf16", True, "fast", False),  # merged adapter, static cache, nucleus sampler
    ("shipped_compiled", "bf16", True, "fast", True),  # runs of >= COMPILE_MIN_BATCHES batches
]


def measure_generation(run_dir: Path, adapter: Path, batch: int, repeats: int) -> list[dict]:
    """Tokens/s at batch 1 and `batch`, and the cleaning step's acceptance, per path.

    Tokens/s counts each answer's own tokens up to its end of turn; ms per step is the
    padded batch's decoding time per new position, which does not depend on how long the
    sampled answers happen to be.
    """
    from synthpack.clean.pipeline import clean_generations
    from synthpack.common.files import read_jsonl
    from synthpack.models import backends
    from synthpack.models.embedded import prepare_model

    prompts = read_jsonl(run_dir / "prompts" / "all.jsonl")[:batch]
    rows = []
    for name, precision, merge, decoding, compiled in GENERATION_PATHS:
        model, tokenizer = backends.load_model(prepare_model(), adapter, precision, merge)
        sampling = backends.Sampling(256, 0.8, 0.95, seed=0, decoding=decoding)
        warm_up = backends.Sampling(max_new_tokens=4, decoding=decoding)
        backends.generate_batch(model, tokenizer, ["Hi"], warm_up, seed=0)
        compile_seconds = None
        if compiled:  # steady state: the first batch of each shape compiles (timed apart)
            backends.compile_decoding(model)
            began = time.perf_counter()
            for part in ([p["prompt"] for p in prompts[:1]], [p["prompt"] for p in prompts]):
                backends.generate_batch(model, tokenizer, part, sampling, seed=99)
            compile_seconds = round(time.perf_counter() - began, 1)
        # The default batch answers the prompts `repeats` times (other seeds), since how many
        # tokens a batch writes in its steps depends on how long the sampled answers are.
        for size, chosen in ((1, prompts[:2]), (batch, prompts * repeats)):
            tokens, seconds, steps, generations = 0, 0.0, 0, []
            for start in range(0, len(chosen), size):
                part = chosen[start : start + size]
                began = time.perf_counter()
                answers = backends.generate_batch(
                    model, tokenizer, [p["prompt"] for p in part], sampling, seed=start
                )
                seconds += time.perf_counter() - began
                tokens += sum(a["new_tokens"] for a in answers)
                steps += max(a["new_tokens"] for a in answers)
                generations += [
                    {**p, "prompt_id": p["id"], "sample": start // len(prompts),
                     "output": a["text"], "truncated": not a["stopped"]}
                    for p, a in zip(part, answers, strict=True)
                ]  # fmt: skip
            cleaned = clean_generations(generations)
            parsed = len(cleaned.accepted) + len(cleaned.rejected)
            rows.append({
                "path": name, "precision": precision, "batch_size": size,
                "prompts": len(chosen), "new_tokens": tokens, "seconds": round(seconds, 1),
                "tokens_per_s": round(tokens / seconds, 1),
                "ms_per_step": round(1000 * seconds / steps, 1),
                "accepted": len(cleaned.accepted), "rows": parsed,
                "accepted_share": round(len(cleaned.accepted) / parsed, 3) if parsed else None,
                "first_batches_with_compile_s": compile_seconds,
            })  # fmt: skip
            print(f"generate {name} b{size}: {rows[-1]['tokens_per_s']} tok/s, "
                  f"{rows[-1]['ms_per_step']} ms/step", file=sys.stderr, flush=True)  # fmt: skip
        del model
    base = {r["batch_size"]: r for r in rows if r["path"] == "fp32_today"}
    for row in rows:
        ref = base[row["batch_size"]]
        row["tokens_per_s_vs_fp32_today"] = round(row["tokens_per_s"] / ref["tokens_per_s"], 2)
        row["step_speedup_vs_fp32_today"] = round(ref["ms_per_step"] / row["ms_per_step"], 2)
    return rows


def measure_stereoset(work: Path) -> list[dict]:
    from synthpack.evaluate.stereoset import StereoSetSettings, run_stereoset
    from synthpack.models.embedded import prepare_model

    rows = []
    for precision in ("fp32", "bf16"):
        started = time.perf_counter()
        settings = StereoSetSettings(STEREOSET, prepare_model(), precision=precision)
        report = run_stereoset(settings, work / "stereoset" / precision)
        block = report["intrasentence"]
        rows.append({
            "precision": precision, "examples": block["examples"],
            "seconds": round(time.perf_counter() - started, 1),
            "close_calls_in_fp32": report["meta"]["close_calls_in_fp32"],
            **{k: round(block[k], 2) for k in ("lms", "ss", "icat")},
        })  # fmt: skip
        print(f"stereoset {precision}: {rows[-1]['seconds']} s", file=sys.stderr, flush=True)
    return rows


def plot_losses(train: list[dict], path: Path) -> None:
    from synthpack.common.plots import figure, save_png

    fig, ax = figure(6, 3)
    for row in train:
        if row["name"] in ("fp32_today", "shipped"):
            ax.plot(range(1, len(row["losses"]) + 1), row["losses"], marker="o", label=row["name"])
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("LoRA SFT of SmolLM2 on the demo's records, same seed")
    ax.legend()
    save_png(fig, path, mode=0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps of fp32_today and shipped")
    parser.add_argument("--short-steps", type=int, default=5, help="steps of the other rows")
    parser.add_argument("--batch", type=int, default=16, help="the default generation batch")
    parser.add_argument("--repeats", type=int, default=3, help="batches at the default batch")
    parser.add_argument("--skip", default="", help="comma-separated: train,generate,stereoset")
    parser.add_argument("--trained", type=Path, help="an earlier run's work folder (printed as "
                        "'work'): reuse its demo records and adapter, skip training")  # fmt: skip
    parser.add_argument("--out", default="bench/cpu_precision_results.json")
    parser.add_argument("--train-one", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--adapter", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_one:
        print(json.dumps(train_once(args.train_one, args.run_dir, args.steps, args.adapter)))
        return

    import torch

    from synthpack.demo.pipeline import run_demo
    from synthpack.models.precision import cpu_bf16_flags, resolve_precision

    skip = set(filter(None, args.skip.split(",")))
    if args.trained:  # an earlier run's records and adapter: measure what follows training
        work = args.trained
        skip.add("train")
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-precision-"))
    run_dir = work / "demo"
    if not args.trained:
        run_demo(run_dir, steps="prepare-sft", echo=lambda *a, **k: None, precision="fp32")
    print(f"work: {work}", file=sys.stderr, flush=True)
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"flags {cpu_bf16_flags() or 'none'}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "auto": resolve_precision("auto").describe(),
    }
    if "train" not in skip:
        result["train"] = measure_training(run_dir, work, args.steps, args.short_steps)
        plot_losses(result["train"], Path(args.out).with_name("cpu_precision_loss.png"))
    adapter = work / "train" / "shipped"
    if "generate" not in skip and adapter.is_dir():  # it generates with the trained adapter
        result["generate"] = measure_generation(run_dir, adapter, args.batch, args.repeats)
    if "stereoset" not in skip:
        if STEREOSET.is_file():
            result["stereoset"] = measure_stereoset(work)
        else:
            print(f"StereoSet skipped: {STEREOSET} not found", file=sys.stderr)
    out = Path(args.out)
    if skip and out.exists():  # a partial rerun keeps the parts it did not redo
        result = {**json.loads(out.read_text()), **result}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
