"""Activation checkpointing's time cost, measured with steps that alternate in one process.

`bench_train_step.py` runs each variant as its own `llamafactory-cli train`, minutes apart; on
a CPU whose speed drifts by 10-20% within minutes that cannot resolve a 10-20% cost. Here one
Gemma 3 270M with LoRA on every linear layer (as the demo trains it, lean loss and lean
norms installed) takes steps with none, selective and full checkpointing in turn, on the same
batch (4 x 440 random tokens, the last 170 of each labelled: the demo's mean shape), so each
round compares the three under the same drift. The first round is a warm-up.

    python bench/bench_checkpointing_paired.py [--rounds 5] [--precision fp32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

MODES = ("none", "selective", "full")


def lora_gemma(dtype: torch.dtype):
    """The embedded Gemma 3 270M with the demo's LoRA, as the shipped YAML sets it (rank,
    alpha and dropout; `lora_target: all` is PEFT's every linear layer but the output)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from synthpack.common.paths import pack_dir
    from synthpack.demo.plan import TRAIN_CONFIG
    from synthpack.models.embedded import model_dir_for
    from synthpack.train.lean_loss import make_lean
    from synthpack.train.lean_norm import install_lean_norms
    from synthpack.train.lf_config import load_config

    yaml = load_config(pack_dir("llamafactory_configs") / TRAIN_CONFIG)

    install_lean_norms()
    model = AutoModelForCausalLM.from_pretrained(
        model_dir_for("gemma3-270m"), dtype=dtype, attn_implementation="sdpa"
    )
    make_lean(model)
    lora = LoraConfig(r=yaml["lora_rank"], lora_alpha=yaml["lora_alpha"],
                      lora_dropout=yaml["lora_dropout"], target_modules="all-linear")  # fmt: skip
    return get_peft_model(model, lora).train()


def set_checkpointing(model, mode: str) -> None:
    from synthpack.train.lean_checkpoint import selective_kwargs

    inner = model.base_model.model
    if mode == "none":
        inner.gradient_checkpointing_disable()
        return
    kwargs = selective_kwargs() if mode == "selective" else {"use_reentrant": False}
    inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    from synthpack.models.precision import cpu_description

    model = lora_gemma(torch.float32 if args.precision == "fp32" else torch.bfloat16)
    ids = torch.randint(0, 200_000, (4, 440), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :270] = -100
    seconds: dict[str, list[float]] = {m: [] for m in MODES}
    for round_ in range(args.rounds):
        for mode in MODES:
            set_checkpointing(model, mode)
            started = time.perf_counter()
            model(input_ids=ids, labels=labels).loss.backward()
            if round_:  # the first round warms up
                seconds[mode].append(time.perf_counter() - started)
    print(f"{cpu_description()}, {args.precision}, {args.rounds - 1} rounds after a warm-up")
    for mode in MODES:
        ratios = [b / a for a, b in zip(seconds["none"], seconds[mode], strict=True)]
        print(f"{mode:>9}: median {statistics.median(seconds[mode]):.2f} s/step, "
              f"x none per round {[round(r, 3) for r in ratios]}")  # fmt: skip


if __name__ == "__main__":
    main()
