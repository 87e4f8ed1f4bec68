"""LoRA against QLoRA (4-bit NF4 base weights, bitsandbytes) on a CPU: seconds per step and
peak memory of the real `llamafactory-cli train` on the debias demo's SFT data.

Each configuration is a separate `llamafactory-cli train` process under `/usr/bin/time -v`
(peak resident memory of the whole process tree's largest process), same data, steps, batch
and precision; seconds per step from LLaMA-Factory's trainer log, skipping the first step.

    python bench/bench_qlora_cpu.py --run runs/sweep_debias/steps60_lr2e-3 --steps 12
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from synthpack.common.paths import pack_dir
from synthpack.demo.debias import DEBIAS_DATASET, QLORA
from synthpack.demo.plan import TRAIN_CONFIG
from synthpack.models.embedded import model_dir_for
from synthpack.models.precision import cpu_description, resolve_precision
from synthpack.train.launch import llamafactory_cli, precision_overrides
from synthpack.train.lf_config import format_override

CONFIGS = {"lora": {}, "qlora_nf4": QLORA}


def measure(run: Path, steps: int, extra: dict, precision) -> dict:
    """One training process: seconds per step after the first, and its peak memory."""
    with tempfile.TemporaryDirectory() as out:
        overrides = {
            **precision_overrides(model_dir_for("smollm2"), precision),
            "dataset": f"{DEBIAS_DATASET}_train", "dataset_dir": run, "output_dir": out,
            "max_steps": steps, "per_device_train_batch_size": 8, "cutoff_len": 256,
            "template": "smollm2", **extra,
        }  # fmt: skip
        argv = ["/usr/bin/time", "-v", llamafactory_cli(), "train",
                str(pack_dir("llamafactory_configs") / TRAIN_CONFIG),
                *(format_override(k, v) for k, v in overrides.items())]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        log = [json.loads(x) for x in (Path(out) / "trainer_log.jsonl").open()]
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    times = [r["elapsed_time"] for r in log if "elapsed_time" in r]
    seconds = [sum(int(x) * 60**i for i, x in enumerate(reversed(t.split(":")))) for t in times]
    per_step = (seconds[-1] - seconds[0]) / max(1, len(seconds) - 1)
    return {"seconds_per_step": round(per_step, 2), "peak_rss_gb": round(rss_kb / 1e6, 2),
            "loss_last": log[-1].get("loss")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a debias demo run folder")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--out", type=Path, default=Path("bench/qlora_cpu_results.json"))
    args = parser.parse_args()
    precision = resolve_precision(args.precision)
    rows = {name: measure(args.run, args.steps, extra, precision)
            for name, extra in CONFIGS.items()}  # fmt: skip
    result = {
        "cpu": cpu_description(),
        "precision": precision.name,
        "steps": args.steps,
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in rows.items():
        print(f"{name}: {row['seconds_per_step']} s/step, peak {row['peak_rss_gb']} GB")


if __name__ == "__main__":
    main()
