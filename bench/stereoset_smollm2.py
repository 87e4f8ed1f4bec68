"""Benchmark: the embedded SmolLM2-135M-Instruct on the full StereoSet dev set, on CPU.

Measures (1) scoring throughput at batch sizes 1 and 16 on the same 50 intrasentence examples
(batch 1 is the baseline), then (2) the full dev set, both splits, with the tokenizer's BOS as
start token, and (3) intrasentence again with <|endoftext|> as start token.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/stereoset_smollm2.py \
        --data ../shared/data/stereoset/dev.json --out runs/bench/stereoset_smollm2

Prints one JSON line per measurement and writes summary.json into --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from synthpack.common.files import atomic_write_json
from synthpack.evaluate import stereoset
from synthpack.models.embedded import prepare_model
from synthpack.models.scoring import load_scoring_model, resolve_start_token


def timed_scores(model, tokenizer, examples, batch_size, start_id=None):
    started = time.perf_counter()
    scores = stereoset.model_scores(model, tokenizer, examples, batch_size, start_id=start_id)
    seconds = time.perf_counter() - started
    return scores, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/stereoset_smollm2"))
    parser.add_argument("--skip-full", action="store_true", help="throughput part only")
    args = parser.parse_args()

    import torch

    model_dir = prepare_model()
    model, tokenizer = load_scoring_model(model_dir, None)
    data = stereoset.load_stereoset(args.data)
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
        "note": "shared 2-core CPU machine, other engineers' jobs running: timings are noisy",
        "model": str(model_dir),
        "throughput": {},
    }

    sample = stereoset.subset(data["intrasentence"], 50)
    for batch_size in (1, 16):
        _, seconds = timed_scores(model, tokenizer, sample, batch_size)
        rate = 3 * len(sample) / seconds
        summary["throughput"][f"batch_{batch_size}"] = {
            "sentences": 3 * len(sample),
            "seconds": round(seconds, 2),
            "sentences_per_s": round(rate, 2),
        }
        print(json.dumps({"batch_size": batch_size, "sentences_per_s": round(rate, 2)}), flush=True)
    base = summary["throughput"]["batch_1"]["sentences_per_s"]
    summary["throughput"]["speedup_16_vs_1"] = round(
        summary["throughput"]["batch_16"]["sentences_per_s"] / base, 2
    )

    if not args.skip_full:
        runs = [("bos", None, stereoset.SPLITS), ("endoftext", "<|endoftext|>", ("intrasentence",))]
        for name, token, splits in runs:
            start_id = resolve_start_token(tokenizer, token)
            examples = {s: data[s] for s in splits}
            pooled = [e for s in splits for e in data[s]]
            scores, seconds = timed_scores(model, tokenizer, pooled, 16, start_id)
            report = stereoset.evaluate(examples, scores)
            atomic_write_json(args.out / f"report_{name}.json", report, mode=0o644)
            atomic_write_json(
                args.out / f"predictions_{name}.json",
                stereoset.predictions_document(pooled, scores),
                mode=0o644,
            )
            summary[f"full_{name}"] = {
                "start_token": token or tokenizer.bos_token,
                "sentences": 3 * len(pooled),
                "seconds": round(seconds, 1),
                "report": report,
            }
            print(json.dumps({"run": name, "seconds": round(seconds, 1)}), flush=True)
            atomic_write_json(args.out / "summary.json", summary, mode=0o644)
    atomic_write_json(args.out / "summary.json", summary, mode=0o644)


if __name__ == "__main__":
    main()
