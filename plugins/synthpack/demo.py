"""`synthpack demo`: the pipeline end to end on the embedded default, on a CPU.

Each step leaves its outputs in the run folder and a `.done` stamp; a second call reuses
finished steps, so an interrupted demo resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import click

from synthpack.files import atomic_write_json, atomic_write_jsonl
from synthpack.generate import Sampling
from synthpack.paths import pack_dir

DEMO_CONFIG = "smollm2_lora_sft_cpu.yaml"
# Greedy decoding makes SmolLM2 loop on list numbers ("1. 1.1.1..."); light sampling does not.
DEMO_SAMPLING = Sampling(max_new_tokens=128, temperature=0.7, top_p=0.9, seed=0)
DEMO_PROMPTS = [
    "Write 4 new, varied sentences about public parks. Number each entry, starting from 1.",
    "Rewrite the post so that it keeps its meaning but is polite and free of insults.\n\n"
    "This update is trash and the devs are clueless.",
]


def _run_step(run_dir: Path, name: str, action: Callable[[], dict], force: bool) -> dict:
    stamp = run_dir / f".{name}.done"
    if stamp.exists() and not force:
        record = json.loads(stamp.read_text())
        record["status"] = "reused"
        return record
    started = time.perf_counter()
    info = action()
    record = {"step": name, "seconds": round(time.perf_counter() - started, 1), **info}
    atomic_write_json(stamp, record)
    record["status"] = "ran"
    return record


def run_demo(run_dir: Path, max_steps: int = 6, force: bool = False) -> list[dict]:
    from synthpack.generate import generate_chat, load_model
    from synthpack.model import prepare_default_model
    from synthpack.train import run_llamafactory_train

    run_dir.mkdir(parents=True, exist_ok=True)
    model_dir = prepare_default_model()
    adapter_dir = run_dir / "adapter"

    def prepare() -> dict:
        return {"model_dir": str(model_dir)}

    def train() -> dict:
        run_llamafactory_train(
            pack_dir("llamafactory_configs") / DEMO_CONFIG,
            {
                "model_name_or_path": model_dir,
                "dataset_dir": pack_dir("dataset_info"),
                "output_dir": adapter_dir,
                "max_steps": max_steps,
            },
            log_path=run_dir / "train.log",
        )
        return {"adapter_dir": str(adapter_dir)}

    def generate() -> dict:
        model, tokenizer = load_model(model_dir, adapter_dir)
        started = time.perf_counter()
        outputs = generate_chat(model, tokenizer, DEMO_PROMPTS, DEMO_SAMPLING)
        seconds = time.perf_counter() - started
        rows = [{"prompt": p, **o} for p, o in zip(DEMO_PROMPTS, outputs, strict=False)]
        atomic_write_jsonl(run_dir / "generations.jsonl", rows)
        tokens = sum(o["new_tokens"] for o in outputs)
        return {"generations": len(rows), "tokens_per_s": round(tokens / seconds, 1)}

    steps = [("prepare", prepare), ("train", train), ("generate", generate)]
    records = []
    for name, action in steps:
        click.echo(f"[demo] {name} ...", err=True)
        records.append(_run_step(run_dir, name, action, force))
    atomic_write_json(run_dir / "summary.json", {"steps": records})
    click.echo(f"{'step':<10} {'status':<7} {'seconds':>8}")
    for r in records:
        click.echo(f"{r['step']:<10} {r['status']:<7} {r['seconds']:>8}")
    click.echo(f"outputs in {run_dir} (generations.jsonl is owner-only)")
    return records
