"""A real `llamafactory-cli train` (LoRA SFT, CPU) on the shipped YAML; base + adapter generate."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthpack.common.paths import pack_dir
from synthpack.train.launch import run_llamafactory_train

CONFIG = pack_dir("llamafactory_configs") / "smollm2_lora_sft_cpu.yaml"


def _train_and_check(model_dir, out_dir, steps: int, extra: dict | None = None, expected=None):
    adapter = out_dir / "adapter"
    run_llamafactory_train(
        CONFIG,
        {
            "model_name_or_path": model_dir,
            "dataset_dir": pack_dir("dataset_info"),
            "output_dir": adapter,
            "max_steps": steps,
            **(extra or {}),
        },
        log_path=out_dir / "train.log",
    )
    assert (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["peft_type"] == "LORA"
    losses = [
        json.loads(line)["loss"]
        for line in (adapter / "trainer_log.jsonl").read_text().splitlines()
        if "loss" in json.loads(line)
    ]
    assert len(losses) == steps
    assert all(math.isfinite(loss) for loss in losses)
    if expected is not None:
        assert losses == pytest.approx(expected, abs=1e-4), losses  # the seeded run's
    return adapter


def _generate(model_dir, adapter, max_new_tokens: int):
    """Greedy answers of the merged model (what `synthpack generate` runs) and of the adapter
    kept apart (a PeftModel, decoded by transformers' own loop) must be the same tokens."""
    from synthpack.models.backends import Sampling, generate_chat, load_model

    prompts = ["Write 2 sentences about gardening.", "Name a colour."]
    merged, tokenizer = load_model(model_dir, adapter, "fp32")
    assert type(merged).__name__ != "PeftModelForCausalLM"
    apart, _ = load_model(model_dir, adapter, "fp32", merge=False)
    assert type(apart).__name__ == "PeftModelForCausalLM"
    fast = generate_chat(merged, tokenizer, prompts, Sampling(max_new_tokens=max_new_tokens))
    reference = Sampling(max_new_tokens=max_new_tokens, decoding="transformers")
    assert fast == generate_chat(apart, tokenizer, prompts, reference)
    return fast[0]


@pytest.mark.integration
def test_lora_sft_trains_the_tiny_model_and_its_adapter_generates(tiny_model, tmp_path):
    import torch

    from synthpack.models.backends import load_model

    # The seeded run's losses (seed 42, fp32, one thread), recorded 2026-12-06 on an
    # "Intel(R) Xeon(R) Processor" (lscpu: family 6, model 167); why abs=1e-4: tests/conftest.py.
    adapter = _train_and_check(
        tiny_model, tmp_path, steps=3, expected=[6.442593, 6.420834, 6.411410]
    )
    answer = _generate(tiny_model, adapter, max_new_tokens=8)
    assert answer["new_tokens"] > 0
    # The merge really folded the trained adapter in: its weights are not the base model's.
    base, _ = load_model(tiny_model, precision="fp32")
    merged, _ = load_model(tiny_model, adapter, "fp32")
    name = next(n for n, _ in base.named_parameters() if n.endswith("q_proj.weight"))
    assert not torch.equal(
        dict(base.named_parameters())[name], dict(merged.named_parameters())[name]
    )


@pytest.mark.slow
def test_lora_sft_trains_smollm2_and_its_adapter_generates(smollm2, tmp_path):
    adapter = _train_and_check(
        smollm2, tmp_path, steps=2, extra={"cutoff_len": 256, "per_device_train_batch_size": 2}
    )
    answer = _generate(smollm2, adapter, max_new_tokens=24)
    assert answer["new_tokens"] > 0
    assert any(ch.isalpha() for ch in answer["text"])


def test_the_trainer_log_reader_skips_an_old_log_and_waits_for_whole_lines(tmp_path):
    from synthpack.common.progress import silent
    from synthpack.train.launch import TrainerLogReader, show_training

    log = tmp_path / "trainer_log.jsonl"
    log.write_text('{"current_steps": 9, "total_steps": 9, "loss": 0.1}\n')
    reader = TrainerLogReader(log)
    assert reader.read_new() == []  # an earlier run's log, appended to
    with log.open("a") as f:
        f.write('{"current_steps": 1, "total_steps": 4, "loss": 2.5}\n{"current_')
    assert reader.read_new() == [{"current_steps": 1, "total_steps": 4, "loss": 2.5}]
    with log.open("a") as f:
        f.write('steps": 2, "total_steps": 4}\n')
    assert reader.read_new() == [{"current_steps": 2, "total_steps": 4}]
    log.unlink()  # LLaMA-Factory deletes the old log with overwrite_output_dir, then writes anew
    log.write_text(
        '{"current_steps": 1, "total_steps": 2, "loss": 3.0, "remaining_time": "0:01"}\n'
    )
    (new,) = reader.read_new()
    assert new["loss"] == 3.0

    seen = []
    with silent(0, "train") as update:
        done = show_training(
            [new, {"current_steps": 2, "total_steps": 2}],
            lambda n, **facts: seen.append((n, facts)) or update(n),
            0,
        )
    assert done == 2
    assert seen == [(1, {"total": 2, "loss": "3.0000", "left": "0:01"}), (1, {"total": 2})]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_child_started_by_the_launcher_dies_with_it(tmp_path):
    """A killed demo must not leave its training writing the run folder (it once left three)."""
    pid_file = tmp_path / "child.pid"
    launcher = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from synthpack.train.launch import start_child\n"
        "child = start_child([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )])  # fmt: skip
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and launcher.poll() is None, "the launcher never started"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    os.kill(launcher.pid, signal.SIGKILL)  # no handler runs: only the kernel can stop the child
    launcher.wait()
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, f"child {child} outlived its killed launcher"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped (init reaps an orphan soon after)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
