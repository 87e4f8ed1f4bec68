#!/usr/bin/env bash
# GPU measurement of the shipped debias YAMLs (bench/gpu_configs.py) on a lent GPU machine:
# installs the wheels the machine lacks, checks bitsandbytes' CUDA library and the data path,
# then runs the benchmark within a time budget. Results: $OUT/gpu_configs.json (rewritten
# after every run), the whole log in $OUT/gpu_configs.log, each run's log in $OUT/run_logs.tgz.
#
# Device command, from the repository root:  bash bench/gpu_configs.sh
# with carry [".whl", ".gpu_bench"] (both ignored by git, through .git/info/exclude):
#   .whl/        what the GPU machine lacks or has in other versions: llamafactory 0.9.5,
#                transformers 5.6.0 (llamafactory 0.9.5 allows <= 5.6.0), peft 0.18.1,
#                tokenizers 0.22.2, accelerate 1.11.0, huggingface_hub 1.33.0, datasets 4.0.0,
#                fsspec 2025.3.0, dill 0.3.8, multiprocess 0.70.16 (py312), trl 0.24.0,
#                omegaconf 2.4.0, and bitsandbytes 0.50.2 repacked with only its CPU and
#                CUDA 13.0 libraries (torch there is 2.11+cu130). Downloaded with
#                `pip download --no-deps --only-binary=:all: --python-version 3.12
#                --implementation cp --platform manylinux_2_28_x86_64 ... -d .whl NAME==VERSION`.
#   .gpu_bench/  SmolLM2's tokenizer files (`python bench/gpu_configs.py --prepare`).
# Environment: GPU_BENCH_TOTAL_S (default 430) is the whole script's budget in seconds;
# GPU_BENCH_ARGS adds arguments (e.g. "--only 1b_qlora_1024,1b_full_1024 --steps 10").
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_bench_out}
mkdir -p "$OUT"
TOTAL=${GPU_BENCH_TOTAL_S:-430}
export PYTHONUNBUFFERED=1 HF_HOME=/tmp/gpu_bench/hf HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

{
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
  echo "== setup $SECONDS s"
  nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
  df -h /tmp | tail -1
  python3 - <<'PY'
from importlib.metadata import version
for name in ("torch", "transformers", "peft", "accelerate", "tokenizers", "datasets", "trl",
             "bitsandbytes", "llamafactory", "huggingface_hub", "pandas", "pyarrow"):
    print(f"{name} {version(name)}")
import torch
print("torch cuda", torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0))
PY
  # Smoke tests: the train path's imports and bitsandbytes' CUDA 13 library at work; the
  # registered Alpaca files (a JSON array) read by datasets through pandas' JSON code.
  python3 - <<'PY'
import torch, bitsandbytes, bitsandbytes.functional as F, llamafactory.train.tuner
x = torch.randn(256, 256, device="cuda", dtype=torch.float16)
q, state = F.quantize_4bit(x, quant_type="nf4", compress_statistics=True)
err = (F.dequantize_4bit(q, state) - x).abs().mean().item()
print(f"smoke ok: bitsandbytes nf4 round trip, mean error {err:.3f}")
PY
  python3 - <<'PY'
import json, os, tempfile
import datasets
path = os.path.join(tempfile.mkdtemp(), "a.json")
json.dump([{"system": "s", "instruction": "i", "input": "x", "output": "y"}] * 4, open(path, "w"))
print(f"smoke ok: datasets read {len(datasets.load_dataset('json', data_files=path)['train'])} rows")
PY
  echo "== smoke done $SECONDS s"
  # The benchmark skips runs that no longer fit and kills a run at its own timeout; the
  # outer timeout is the last resort (results are written after every run anyway).
  BUDGET=$((TOTAL - SECONDS))
  # shellcheck disable=SC2086
  timeout --kill-after=10 $((BUDGET + 20)) python3 bench/gpu_configs.py \
    --out "$OUT/gpu_configs.json" --budget-s "$BUDGET" ${GPU_BENCH_ARGS:-}
  echo "== done $SECONDS s (exit $?)"
  tar czf "$OUT/run_logs.tgz" -C /tmp/gpu_bench logs 2>/dev/null  # one file: few come back
} 2>&1 | tee "$OUT/gpu_configs.log"
