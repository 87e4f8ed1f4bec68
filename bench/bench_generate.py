"""Generation throughput of the embedded SmolLM2: one sequence at a time against batches.

The workload is the real one: prompts rendered by `synthpack render` from the shipped hate seeds,
answered with the demo's sampling settings. Tokens/s counts only the tokens each answer really
has (up to its end-of-turn), so padding after an early stop does not inflate the batched figure.

    python bench/bench_generate.py --out bench/generate_results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from synthpack.models.backends import Sampling, generate_batch, load_model
from synthpack.models.embedded import prepare_model
from synthpack.prompts.render import RenderSettings, run_render


def rendered_prompts(n: int, n_entries: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = RenderSettings("hate", ("v1",), ("pos",), n_prompts=n, n_entries=n_entries)
        run_render(settings, Path(tmp))
        path = Path(tmp) / "hate_pos_v1" / "prompts.jsonl"
        return [json.loads(line)["prompt"] for line in path.read_text().splitlines()]


def measure(model, tokenizer, prompts: list[str], batch_size: int, sampling: Sampling) -> dict:
    tokens, seconds = 0, 0.0
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        began = time.perf_counter()
        answers = generate_batch(model, tokenizer, batch, sampling, seed=start)
        seconds += time.perf_counter() - began
        tokens += sum(a["new_tokens"] for a in answers)
    return {
        "batch_size": batch_size,
        "prompts": len(prompts),
        "new_tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single-prompts", type=int, default=2)
    parser.add_argument("--batch-sizes", default="8,16")
    parser.add_argument("--n-entries", type=int, default=30, help="entries each prompt asks for")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="as synthpack generate")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    parser.add_argument("--out", default="bench/generate_results.json")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    sampling = Sampling(max_new_tokens=args.max_new_tokens, temperature=0.7, top_p=0.9)
    model, tokenizer = load_model(prepare_model())
    prompts = rendered_prompts(max(batch_sizes + [args.single_prompts]), args.n_entries)
    prompt_tokens = [len(tokenizer(p).input_ids) for p in prompts]

    generate_batch(model, tokenizer, prompts[:1], Sampling(max_new_tokens=4), seed=0)  # warm-up
    baseline = measure(model, tokenizer, prompts[: args.single_prompts], 1, sampling)
    runs = [baseline]
    for size in batch_sizes:
        run = measure(model, tokenizer, prompts[:size], size, sampling)
        run["speedup_vs_single"] = round(run["tokens_per_s"] / baseline["tokens_per_s"], 2)
        runs.append(run)

    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "torch_threads": torch.get_num_threads(),
        "model": "SmolLM2-135M-Instruct (fp32, prepared by synthpack model prepare)",
        "sampling": {"temperature": 0.7, "top_p": 0.9, "max_new_tokens": args.max_new_tokens},
        "n_entries": args.n_entries,
        "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens), 1),
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'batch':>5} {'prompts':>7} {'tokens':>7} {'seconds':>8} {'tok/s':>7} {'ratio':>6}")
    for r in runs:
        ratio = r.get("speedup_vs_single", 1.0)
        print(
            f"{r['batch_size']:>5} {r['prompts']:>7} {r['new_tokens']:>7} {r['seconds']:>8} "
            f"{r['tokens_per_s']:>7} {ratio:>6}"
        )


if __name__ == "__main__":
    main()
